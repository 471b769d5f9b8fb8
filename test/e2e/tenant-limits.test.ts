/**
 * Per-tenant limits through both AWS front doors (API Gateway's handler and the stream function
 * URL's), each its own app over its own adapters as two Lambda functions would be, sharing one
 * table: a limit counted through one door holds at the other. Clients are the official SDK with
 * retries off (it retries 429 by default), reading each refusal as its own RateLimitError.
 */
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import OpenAI, { RateLimitError } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "#shared/http/app.ts";
import type { Deps } from "#shared/ports.ts";
import { CapacityMeter, createDynamoClients } from "#shared/store/dynamo-client.ts";
import { DynamoTenantQuotas } from "#shared/store/dynamo-tenant-quotas.ts";
import { rateKey } from "#shared/store/keys.ts";
import { batchFor, WINDOW_MS } from "#shared/store/request-tokens.ts";
import { DynamoTenantStore } from "#shared/store/dynamo-tenant-store.ts";
import { createTenant, setLimits } from "#shared/use-cases/manage-keys.ts";
import { apiGatewayDoor, functionUrlDoor } from "#test/support/front-doors.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";

let relay: RelayHarness;
const doors: { name: string; url: string; close(): Promise<void> }[] = [];
let tenantId: string;
let apiKey: string;
let gateway: OpenAI;
let functionUrl: OpenAI;

/** What each door's counters cost: the DynamoDB calls of its quotas adapter. */
const quotaCalls: CapacityMeter[] = [];
/** Adapters of another instance: its own caches, the same table. */
const instance = (): Deps => {
  const meter = new CapacityMeter();
  quotaCalls.push(meter);
  const metered = createDynamoClients({ endpoint: relay.table.endpoint, meter });
  return {
    ...relay.deps,
    tenants: new DynamoTenantStore({ doc: relay.table.doc, tableName: relay.table.tableName }),
    quotas: new DynamoTenantQuotas({ doc: metered.doc, tableName: relay.table.tableName }),
  };
};
const appOf = (deps: Deps) => createApp(deps, { maxBodyBytes: 1 << 20, log: () => {} });

beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 4000 } });
  doors.push({ name: "API Gateway", ...(await apiGatewayDoor(appOf(instance()))) });
  doors.push({ name: "function URL", ...(await functionUrlDoor(appOf(instance()))) });
});
afterAll(async () => {
  for (const door of doors) await door.close();
  await relay.close();
});
beforeEach(async () => {
  ({
    tenant: { id: tenantId },
    apiKey,
  } = await createTenant(relay.deps.tenants, { name: "limited" }));
  gateway = new OpenAI({ baseURL: `${doors[0]!.url}/v1`, apiKey, maxRetries: 0 });
  functionUrl = new OpenAI({ baseURL: `${doors[1]!.url}/v1`, apiKey, maxRetries: 0 });
});

const limit = (changes: Parameters<typeof setLimits>[2]) => setLimits(relay.deps.tenants, tenantId, changes);
const background = (client: OpenAI, input = `job ${Math.random()}`) =>
  client.responses.create({ model: "gpt-5-pro", input, background: true });
async function refusal(call: Promise<unknown>): Promise<RateLimitError> {
  const error = await call.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RateLimitError);
  return error as RateLimitError;
}

describe("request rate", () => {
  it("is one budget across both doors; over it, a 429 RateLimitError with OpenAI's headers", async () => {
    await limit({ requestsPerMinute: 5 });
    const job = await background(gateway);
    await gateway.responses.retrieve(job.id);
    const { response } = await functionUrl.responses.retrieve(job.id).withResponse();
    expect(response.headers.get("x-ratelimit-limit-requests")).toBe("5");
    expect(response.headers.get("x-ratelimit-remaining-requests")).toBe("2");
    await functionUrl.responses.retrieve(job.id);
    await gateway.responses.retrieve(job.id);
    for (const client of [gateway, functionUrl]) {
      const error = await refusal(client.responses.retrieve(job.id));
      expect(error.status).toBe(429);
      expect(error.code).toBe("rate_limit_exceeded");
      expect(error.type).toBe("requests");
      expect(Number(error.headers?.get("retry-after"))).toBeGreaterThan(0);
      expect(error.headers?.get("x-ratelimit-remaining-requests")).toBe("0");
      expect(error.headers?.get("x-ratelimit-reset-requests")).toMatch(/^(\d+m)?\d+m?s$/);
    }
    // Another tenant is not affected, and the next minute starts afresh.
    expect((await relay.call("GET", `/v1/responses`)).status).toBe(200);
    relay.clock.advance(60_000);
    expect((await gateway.responses.retrieve(job.id)).id).toBe(job.id);
  });
});

describe("request rate at volume", () => {
  it("holds across both doors with tokens reserved in batches: never over, a few calls, little unspent", {
    timeout: 90_000,
  }, async () => {
    const rpm = 300;
    await limit({ requestsPerMinute: rpm });
    const job = await background(gateway);
    for (const meter of quotaCalls) meter.reset();
    let granted = 1;
    // Four callers per door, each until it meets its first refusal.
    const caller = async (client: OpenAI) => {
      for (;;) {
        const ok = await client.responses.retrieve(job.id).then(
          () => true,
          (error: unknown) => {
            if (!(error instanceof RateLimitError)) throw error;
            return false;
          },
        );
        if (!ok) return;
        granted++;
      }
    };
    await Promise.all([gateway, functionUrl].flatMap((client) => Array.from({ length: 4 }, () => caller(client))));
    const windowStart = Math.floor(relay.clock.now() / WINDOW_MS) * WINDOW_MS;
    const { Item } = await relay.table.doc.send(
      new GetCommand({ TableName: relay.table.tableName, Key: rateKey(tenantId, windowStart), ConsistentRead: true }),
    );
    // The counter holds every token handed out, and never more than the limit.
    expect(Item?.n).toBe(rpm);
    expect(granted).toBeLessThanOrEqual(rpm);
    // Tokens a door reserved and did not spend before it stopped: at most two batches per door.
    expect(rpm - granted).toBeLessThanOrEqual(2 * 2 * batchFor(rpm));
    // Batches (3 tokens at most here, 60 at the default limit), not a write per request.
    const calls = quotaCalls.reduce((sum, meter) => sum + meter.requests, 0);
    expect(calls).toBeLessThan(granted / 2);
  });
});

describe("pending jobs", () => {
  it("are counted across doors until they end", async () => {
    await limit({ pendingJobs: 2 });
    const first = await background(gateway);
    await background(functionUrl);
    for (const client of [gateway, functionUrl]) {
      const error = await refusal(background(client));
      expect(error.code).toBe("too_many_pending_jobs");
      expect(error.headers?.get("x-ratelimit-limit-pending-jobs")).toBe("2");
      expect(Number(error.headers?.get("retry-after"))).toBeGreaterThan(0);
    }
    // A refused submit made no job.
    expect((await gateway.get("/responses")) as { data: unknown[] }).toMatchObject({ data: [{}, {}] });
    // An ended job frees its slot at once (the same write that ends it).
    await gateway.responses.cancel(first.id);
    const third = await background(functionUrl);
    expect(third.status).toBe("queued");
    await relay.runUntil(async () => (await relay.deps.jobs.get(third.id))!.status === "completed");
    expect((await background(gateway)).status).toBe("queued");
  });
});

describe("streams and blocking waits", () => {
  it("bounds live streams per tenant, whichever door they use", async () => {
    await limit({ streams: 1 });
    const job = await background(gateway);
    const stream = await functionUrl.responses.retrieve(job.id, { stream: true });
    const events = stream[Symbol.asyncIterator]();
    expect((await events.next()).value).toMatchObject({ type: "response.created" });
    const error = await refusal(gateway.responses.retrieve(job.id, { stream: true }));
    expect(error.code).toBe("too_many_streams");
    expect(error.headers?.get("x-ratelimit-limit-streams")).toBe("1");
    // The reader goes away: its slot is handed back.
    stream.controller.abort();
    let reopened: Awaited<ReturnType<typeof functionUrl.responses.retrieve>> | null = null;
    for (let i = 0; i < 50 && !reopened; i++) {
      reopened = await functionUrl.responses.retrieve(job.id, { stream: true }).catch(() => null);
      if (!reopened) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(reopened).not.toBeNull();
    reopened!.controller.abort();
  });

  it("bounds blocking creates held open, refusing before any job is made", async () => {
    await limit({ blockingWaits: 1 });
    const waiting = functionUrl.responses.create({ model: "gpt-5-pro", input: "hold on" });
    // The first create is held (its job is queued and the clock stands still); wait until it is.
    await relay.runUntil(async () => ((await gateway.get("/responses")) as { data: unknown[] }).data.length === 1, {
      stepMs: 0,
    });
    const error = await refusal(gateway.responses.create({ model: "gpt-5-pro", input: "me too" }));
    expect(error.code).toBe("too_many_blocking_waits");
    expect(((await gateway.get("/responses")) as { data: unknown[] }).data).toHaveLength(1);
    let done = false;
    void waiting.finally(() => (done = true));
    await relay.runUntil(() => done);
    expect((await waiting).status).toBe("completed");
    // The slot is free again: the next blocking create is held, and answered.
    const next = gateway.responses.create({ model: "gpt-5-pro", input: "now" });
    let answered = false;
    void next.finally(() => (answered = true));
    await relay.runUntil(() => answered);
    expect((await next).status).toBe("completed");
  });
});
