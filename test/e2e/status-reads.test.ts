/**
 * The status read (`GET /v1/responses/{id}`, docs/decisions/0013-status-read-path.md): one
 * DynamoDB call whether this instance has seen the job or not, the same body as reading the job,
 * its request and its output apart, and a per-instance view cache that never outlives what it
 * must not: another tenant, a delete, a revoked key, a changed delivery state.
 * Each "instance" is another app over its own adapters on the harness's table, as another Lambda
 * instance would be, its job store's DynamoDB calls metered.
 */
import { request } from "node:http";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toResponseObject } from "#shared/domain/response-view.ts";
import { createApp } from "#shared/http/app.ts";
import { MIN_COMPRESS_BYTES } from "#shared/http/json-reply.ts";
import type { Deps } from "#shared/ports.ts";
import { CapacityMeter, createDynamoClients } from "#shared/store/dynamo-client.ts";
import { DynamoJobStore } from "#shared/store/dynamo-job-store.ts";
import { DynamoTenantStore } from "#shared/store/dynamo-tenant-store.ts";
import { ViewCache } from "#shared/store/view-cache.ts";
import { createTenant, revokeKey } from "#shared/use-cases/manage-keys.ts";
import { startReceiver, type Receiver } from "#test/support/receiver.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";

let relay: RelayHarness;
let receiver: Receiver;
beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 3000, outputBytes: 3000 } });
  receiver = await startReceiver(relay.tenant.webhookSecrets[0]!);
});
afterAll(async () => {
  await receiver.close();
  await relay.close();
});

const ORIGIN = "http://relay.test";

function instance(options: { viewCache?: ViewCache; keyCacheMs?: number } = {}) {
  const meter = new CapacityMeter();
  const { doc } = createDynamoClients({ endpoint: relay.table.endpoint, meter });
  const jobs = new DynamoJobStore({ doc, tableName: relay.table.tableName, viewCache: options.viewCache });
  const tenants = new DynamoTenantStore({
    doc: relay.table.doc,
    tableName: relay.table.tableName,
    cacheMs: options.keyCacheMs,
  });
  const deps: Deps = { ...relay.deps, jobs, tenants };
  const app = createApp(deps, { maxBodyBytes: 1 << 20, log: () => {} });
  return {
    meter,
    async submit(body: Record<string, unknown>) {
      const res = await app.request(`${ORIGIN}/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${relay.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ background: true, model: "gpt-5-pro", ...body }),
      });
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: string }).id;
    },
    /** `GET /v1/responses` (the relay's list) as `tenant`'s key sees it. */
    async list(query = "", key = relay.apiKey) {
      const calls = meter.requests;
      const res = await app.request(`${ORIGIN}/v1/responses${query}`, { headers: { authorization: `Bearer ${key}` } });
      return {
        status: res.status,
        body: (await res.json()) as { data: Record<string, unknown>[] },
        calls: meter.requests - calls,
      };
    },
    async get(id: string, key = relay.apiKey) {
      const calls = meter.requests;
      const res = await app.request(`${ORIGIN}/v1/responses/${id}`, { headers: { authorization: `Bearer ${key}` } });
      return { status: res.status, text: await res.text(), calls: meter.requests - calls };
    },
  };
}

/** The body as the status route built it before: the job, then its request and output read apart. */
async function readApart(id: string): Promise<string> {
  const job = (await relay.deps.jobs.get(id))!;
  const [output, request] = await Promise.all([relay.deps.jobs.getOutput(job), relay.deps.jobs.getRequest(job)]);
  return JSON.stringify(toResponseObject(job, output, request, relay.deps.settings.publicBaseUrl || ORIGIN));
}

const submit = async (body: Record<string, unknown>, key = relay.apiKey) => {
  const res = await relay.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", ...body }, {}, key);
  expect(res.status).toBe(202);
  return res.body.id as string;
};
const statusOf = async (id: string) => (await relay.deps.jobs.get(id))!.status;

describe("a status read", () => {
  it("answers every state byte for byte as reading the job, its request and its output apart did", async () => {
    const rich = {
      instructions: "Answer in French.",
      input: [{ role: "user", content: "x".repeat(50_000) }],
      reasoning: { effort: "high", summary: "auto" },
      text: { verbosity: "low" },
      tools: [{ type: "function", name: "lookup", parameters: { type: "object", properties: {} } }],
      temperature: 0.2,
      store: false,
      prompt_cache_key: "k",
      metadata: { ticket: "T-9" },
      webhook: { url: receiver.url },
    };
    const ids = {
      completed: await submit(rich),
      failed: await submit({ input: "fail", metadata: { sim_outcome: "failed" } }),
      incomplete: await submit({ input: "cut", metadata: { sim_outcome: "incomplete" } }),
      cancelled: await submit({ input: "cancel me" }),
      queued: await submit({ input: "stuck", metadata: { sim_outcome: "stuck_queued" } }),
    };
    // Pending: every one of them, before anything ends.
    const cold = instance();
    for (const id of Object.values(ids)) {
      const first = await cold.get(id);
      expect(first.status).toBe(200);
      expect(first.text).toBe(await readApart(id));
    }
    expect((await relay.call("POST", `/v1/responses/${ids.cancelled}/cancel`)).status).toBe(200);
    await relay.runUntil(async () => {
      for (const key of ["completed", "failed", "incomplete"] as const)
        if ((await statusOf(ids[key])) !== key) return false;
      return receiver.accepted().length > 0;
    });
    for (const [state, id] of Object.entries(ids)) {
      const expected = await readApart(id);
      expect(JSON.parse(expected).status).toBe(state);
      // Seen before it ended (request kept, output not), then again (both kept), then fresh.
      expect((await cold.get(id)).text, state).toBe(expected);
      expect((await cold.get(id)).text, state).toBe(expected);
      expect((await instance().get(id)).text, state).toBe(expected);
      // And through the harness's own app over HTTP, as clients see it.
      expect(JSON.stringify((await relay.call("GET", `/v1/responses/${id}`)).body)).toBe(
        expected.replaceAll(ORIGIN, new URL(relay.url).origin),
      );
    }
  });

  it("is one DynamoDB call, whether this instance has seen the job or not", async () => {
    const id = await submit({ input: "count my reads", instructions: "Be brief." });
    const api = instance();
    expect((await api.get(id)).calls).toBe(1);
    expect((await api.get(id)).calls).toBe(1);
    await relay.runUntil(async () => (await statusOf(id)) === "completed");
    // Ended since: the job item and its output together, then the job item alone.
    expect((await api.get(id)).calls).toBe(1);
    expect((await api.get(id)).calls).toBe(1);
    expect((await instance().get(id)).calls).toBe(1);
  });

  it("reads nothing back on the instance that took the submit: it kept what it wrote", async () => {
    const cache = new ViewCache();
    const api = instance({ viewCache: cache });
    const id = await api.submit({ input: "x".repeat(20_000), instructions: "Kept at submit.", tools: [] });
    expect(cache.has(id, "request")).toBe(true);
    const first = await api.get(id);
    expect(first.calls).toBe(1);
    expect(first.text).toBe(await readApart(id));
    // Only the fields a Response shows, not the 20 KB input.
    expect(cache.bytes).toBeLessThan(1_000);
  });

  it("shows the job item as it is now while the request and output are kept: the webhook's delivery state", async () => {
    const id = await submit({ input: "deliver me", webhook: { url: receiver.url } });
    receiver.reply(() => ({ status: 500 }));
    const api = instance();
    try {
      await relay.runUntil(async () => (await relay.deps.jobs.get(id))!.delivery?.attempts === 1);
      const first = JSON.parse((await api.get(id)).text);
      expect(first.relay.webhook.delivery).toMatchObject({ attempts: 1, last_status: 500 });
      receiver.reply(() => ({ status: 200 }));
      await relay.runUntil(async () => (await relay.deps.jobs.get(id))!.delivery?.state === "delivered", {
        stepMs: 30_000,
      });
      const again = await api.get(id);
      expect(again.calls).toBe(1);
      expect(JSON.parse(again.text).relay.webhook.delivery).toMatchObject({ state: "delivered" });
      expect(again.text).toBe(await readApart(id));
    } finally {
      receiver.reply(() => ({ status: 200 }));
    }
  });
});

describe("a list page", () => {
  it("reads each job's shown request fields once per instance, never the whole request, and shows the same Responses", async () => {
    // Its own tenant, so the page holds exactly these jobs.
    const { apiKey } = await createTenant(relay.deps.tenants, { name: "lister" });
    const big = "y".repeat(300_000);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        await submit(
          { input: [{ role: "user", content: big }], instructions: `job ${i}`, metadata: { n: String(i) } },
          apiKey,
        ),
      );
    const api = instance();
    const first = await api.list("", apiKey);
    expect(first.status).toBe(200);
    expect(first.body.data.map((r) => r.id).sort()).toEqual([...ids].sort());
    // The list query, then each job's request chunks (300 KB of input apiece) once.
    expect(first.calls).toBe(1 + ids.length);
    const again = await api.list("", apiKey);
    expect(again.calls).toBe(1);
    expect(again.body).toEqual(first.body);
    // Each entry is the job's Response as reading its whole request shows it (no output in a page).
    for (const entry of first.body.data) {
      const job = (await relay.deps.jobs.get(entry.id as string))!;
      const full = toResponseObject(job, null, await relay.deps.jobs.getRequest(job), ORIGIN);
      expect(entry).toEqual(JSON.parse(JSON.stringify(full)));
    }
  });
});

describe("the reply's encoding", () => {
  it("is gzip from 8 KiB on for clients that accept it, plain below, the same JSON either way", async () => {
    const small = await submit({ input: "small" });
    const large = await submit({ input: "large", metadata: { sim_output_bytes: "20000" } });
    await relay.runUntil(async () => (await statusOf(large)) === "completed");
    for (const [id, encoding] of [
      [small, null],
      [large, "gzip"],
    ] as const) {
      const raw = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
        const headers = { authorization: `Bearer ${relay.apiKey}`, "accept-encoding": "gzip, deflate" };
        request(new URL(`${relay.url}/v1/responses/${id}`), { headers }, (r) => {
          const chunks: Buffer[] = [];
          r.on("data", (c) => chunks.push(c));
          r.on("end", () => resolve({ encoding: r.headers["content-encoding"], body: Buffer.concat(chunks) }));
        })
          .on("error", reject)
          .end();
      });
      expect(raw.encoding ?? null).toBe(encoding);
      const json = (encoding ? gunzipSync(raw.body) : raw.body).toString("utf8");
      expect(json.length > MIN_COMPRESS_BYTES).toBe(encoding !== null);
      expect(json).toBe((await readApart(id)).replaceAll(ORIGIN, new URL(relay.url).origin));
    }
  });
});

describe("the view cache", () => {
  it("never serves another tenant's job: a 404 exactly like a missing id's, nothing of it kept", async () => {
    const other = await createTenant(relay.deps.tenants, { name: "other" });
    const mine = await submit({ input: "private" });
    const gone = await submit({ input: "to be deleted" });
    expect((await relay.call("DELETE", `/v1/responses/${gone}`)).status).toBe(200);
    await relay.runUntil(async () => (await statusOf(mine)) === "completed");
    const notFound = (id: string) => (text: string) => JSON.parse(text.replaceAll(id, "<id>"));
    // Read first by the other tenant on an instance that has never seen it: nothing is kept.
    const cache = new ViewCache();
    const fresh = instance({ viewCache: cache });
    const theirs = await fresh.get(mine, other.apiKey);
    expect(theirs.status).toBe(404);
    expect(cache.bytes).toBe(0);
    // Then by its owner (now kept), then by the other tenant again.
    expect((await fresh.get(mine)).status).toBe(200);
    expect(cache.bytes).toBeGreaterThan(0);
    const again = await fresh.get(mine, other.apiKey);
    const missing = await fresh.get(gone, other.apiKey);
    expect([again.status, missing.status]).toEqual([404, 404]);
    expect(notFound(mine)(again.text)).toEqual(notFound(gone)(missing.text));
    expect(notFound(mine)(theirs.text)).toEqual(notFound(gone)(missing.text));
    expect(again.text).not.toContain("private");
  });

  it("does not outlive a delete", async () => {
    const id = await submit({ input: "short-lived" });
    await relay.runUntil(async () => (await statusOf(id)) === "completed");
    const api = instance();
    expect((await api.get(id)).status).toBe(200);
    expect((await relay.call("DELETE", `/v1/responses/${id}`)).status).toBe(200);
    expect((await api.get(id)).status).toBe(404);
  });

  it("does not outlive a revoked key: refused within the key cache's bound", async () => {
    const { apiKey } = await createTenant(relay.deps.tenants, { name: "revoked" });
    const id = await submit({ input: "mine for now" }, apiKey);
    const api = instance({ keyCacheMs: 200 });
    expect((await api.get(id, apiKey)).status).toBe(200);
    expect((await api.get(id, apiKey)).status).toBe(200);
    expect(await revokeKey(relay.deps.tenants, apiKey)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await api.get(id, apiKey)).status).toBe(401);
  });

  it("stays within its bound and still answers correctly past it", async () => {
    const cache = new ViewCache({ maxBytes: 12_000 });
    const api = instance({ viewCache: cache });
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => submit({ input: `bounded ${i}` })));
    await relay.runUntil(async () => (await Promise.all(ids.map(statusOf))).every((s) => s === "completed"));
    for (let round = 0; round < 2; round++)
      for (const id of ids) {
        expect((await api.get(id)).text).toBe(await readApart(id));
        expect(cache.bytes).toBeLessThanOrEqual(12_000);
      }
  });
});
