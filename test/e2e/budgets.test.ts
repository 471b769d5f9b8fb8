/**
 * Hard budgets through both front doors, with the official SDK: `relay.max_cost_usd` bounds what a
 * job can cost (the upstream is sent a max_output_tokens whose worst case fits), refuses up front
 * when even no output fits, and the tenant's monthly spend limit refuses new jobs once reached.
 * Spend is read back over the API; a model without a price is flagged, never counted as $0.
 */
import OpenAI, { BadRequestError, RateLimitError } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { modelInfo } from "#shared/domain/models.ts";
import { createApp } from "#shared/http/app.ts";
import { createTenant, setLimits } from "#shared/use-cases/manage-keys.ts";
import { apiGatewayDoor, functionUrlDoor } from "#test/support/front-doors.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { countItems } from "#test/support/table-count.ts";

let relay: RelayHarness;
const doors: { url: string; close(): Promise<void> }[] = [];
let tenantId: string;
let apiKey: string;
let clients: OpenAI[];

beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 500, runMs: 2000, outputBytes: 40_000 } });
  const app = createApp(relay.deps, { maxBodyBytes: 1 << 20, log: () => {} });
  doors.push(await apiGatewayDoor(app), await functionUrlDoor(app));
});
afterAll(async () => {
  for (const door of doors) await door.close();
  await relay.close();
});
beforeEach(async () => {
  ({
    tenant: { id: tenantId },
    apiKey,
  } = await createTenant(relay.deps.tenants, { name: "budgeted" }));
  clients = doors.map((door) => new OpenAI({ baseURL: `${door.url}/v1`, apiKey, maxRetries: 0 }));
});

const settled = async (id: string) => {
  await relay.runUntil(async () =>
    ["completed", "incomplete", "failed"].includes((await relay.deps.jobs.get(id))!.status),
  );
  return (await relay.call("GET", `/v1/responses/${id}`, undefined, {}, apiKey)).body;
};
const create = (client: OpenAI, body: Record<string, unknown>) =>
  client.responses.create({ model: "gpt-5-pro", background: true, ...body } as never) as unknown as Promise<{
    id: string;
    relay: any;
  }>;

describe("relay.max_cost_usd", () => {
  it("keeps the worst case, and the real cost, under the cap", async () => {
    const price = modelInfo("gpt-5-pro");
    const cases = [
      { cap: 0.05, input: "short question" },
      { cap: 0.2, input: "a longer question ".repeat(400) },
      { cap: 1, input: "x".repeat(20_000), max_output_tokens: 500 },
      { cap: 0.0025, input: "tiny budget" },
    ];
    for (const [i, { cap, ...body }] of cases.entries()) {
      const client = clients[i % clients.length]!;
      const job = await create(client, { ...body, relay: { max_cost_usd: cap } });
      const { budget } = job.relay;
      expect(budget.max_cost_usd).toBe(cap);
      expect(budget.worst_case_usd).toBeLessThanOrEqual(cap);
      // The worst case is the counted input at full price plus every allowed output token.
      const worst = (budget.input_tokens * price.inputPerM! + budget.max_output_tokens * price.outputPerM!) / 1e6;
      expect(worst).toBeLessThanOrEqual(cap);
      if (body.max_output_tokens) expect(budget.max_output_tokens).toBeLessThanOrEqual(body.max_output_tokens);
      // What the upstream was actually asked for.
      const upstream = relay.sim.getResponse(job.relay.upstream_id) as { max_output_tokens: number };
      expect(upstream.max_output_tokens).toBe(budget.max_output_tokens);
      const done = await settled(job.id);
      expect(done.usage.input_tokens).toBe(budget.input_tokens);
      expect(done.usage.output_tokens).toBeLessThanOrEqual(budget.max_output_tokens);
      expect(done.relay.cost_usd).toBeLessThanOrEqual(cap);
    }
  });

  it("refuses up front (400, nothing stored) when even no output fits, or the cap cannot be kept", async () => {
    const refusals: [Record<string, unknown>, string][] = [
      [{ input: "y".repeat(40_000), relay: { max_cost_usd: 0.001 } }, "max_cost_too_low"],
      [{ model: "mystery-model-1", input: "hi", relay: { max_cost_usd: 1 } }, "model_price_unknown"],
      [{ input: "hi", tools: [{ type: "web_search" }], relay: { max_cost_usd: 1 } }, "budget_not_enforceable"],
      [{ input: "hi", relay: { max_cost_usd: -1 } }, "invalid_value"],
      [{ input: "hi", relay: { max_cost: 1 } }, "invalid_value"],
    ];
    for (const client of clients)
      for (const [body, code] of refusals) {
        const items = await countItems(relay);
        const creates = relay.sim.stats().ops.create;
        const error = await create(client, body).then(
          () => null,
          (caught: unknown) => caught,
        );
        expect(error, code).toBeInstanceOf(BadRequestError);
        expect((error as BadRequestError).code).toBe(code);
        expect((error as BadRequestError).param).toMatch(/^relay/);
        expect(await countItems(relay)).toBe(items);
        expect(relay.sim.stats().ops.create).toBe(creates);
      }
  });
});

describe("monthly spend", () => {
  it("is recorded as jobs end, readable over the API, and refuses submits once the limit is reached", async () => {
    const [gateway, functionUrl] = clients as [OpenAI, OpenAI];
    const first = await settled((await create(gateway, { input: "spend me" })).id);
    const second = await settled((await create(functionUrl, { input: "and me" })).id);
    // A model the relay has no price for: flagged, never $0.
    const unpriced = await settled((await create(gateway, { model: "mystery-model-2", input: "what costs" })).id);
    expect(unpriced.relay).toMatchObject({ cost_usd: null, unpriced: true });
    expect(first.relay.unpriced).toBe(false);

    const spend = (await gateway.get("/relay/spend")) as any;
    expect(spend).toMatchObject({
      object: "relay.spend",
      priced_jobs: 2,
      unpriced_jobs: 1,
      monthly_limit_usd: null,
      remaining_usd: null,
    });
    expect(spend.cost_usd).toBeCloseTo(first.relay.cost_usd + second.relay.cost_usd, 6);
    expect(spend.unpriced_usage.output_tokens).toBe(unpriced.usage.output_tokens);
    expect(spend.month).toMatch(/^\d{4}-\d{2}$/);
    expect(((await functionUrl.get("/relay/spend", { query: { month: "1999-01" } })) as any).cost_usd).toBe(0);
    const bad = await gateway.get("/relay/spend", { query: { month: "2026-13" } }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BadRequestError);

    await setLimits(relay.deps.tenants, tenantId, { monthlySpendUsd: spend.cost_usd });
    for (const client of clients) {
      const error = await create(client, { input: "one more" }).then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(RateLimitError);
      expect((error as RateLimitError).code).toBe("insufficient_quota");
      expect((error as RateLimitError).headers?.get("x-should-retry")).toBe("false");
    }
    expect(((await gateway.get("/relay/spend")) as any).remaining_usd).toBe(0);
    // Raised: accepted again.
    await setLimits(relay.deps.tenants, tenantId, { monthlySpendUsd: spend.cost_usd + 10 });
    expect((await create(functionUrl, { input: "one more" })).id).toMatch(/^resp_/);
  });
});
