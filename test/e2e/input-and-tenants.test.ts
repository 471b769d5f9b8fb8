import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "#shared/http/app.ts";
import { DynamoTenantStore, KEY_CACHE_MS } from "#shared/store/dynamo-tenant-store.ts";
import { addKey, createTenant, revokeKey } from "#shared/use-cases/manage-keys.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";

let relay: RelayHarness;
beforeAll(async () => {
  relay = await startRelay({ env: { RELAY_MAX_BODY_BYTES: String(64 * 1024) } });
});
afterAll(() => relay.close());

const expectOpenAIError = (body: any) => {
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(typeof body.error.message).toBe("string");
};

describe("bad input", () => {
  const cases: [string, unknown, Record<string, string>, number, string | null][] = [
    ["no model", { input: "hi" }, {}, 400, "model"],
    ["model not a string", { model: 42 }, {}, 400, "model"],
    ["input of the wrong type", { model: "gpt-5-pro", input: 5 }, {}, 400, "input"],
    ["max_output_tokens below 16", { model: "gpt-5-pro", max_output_tokens: 1 }, {}, 400, "max_output_tokens"],
    [
      "17 metadata pairs (OpenAI allows 16)",
      { model: "gpt-5-pro", metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) },
      {},
      400,
      "metadata",
    ],
    ["metadata value too long", { model: "gpt-5-pro", metadata: { k: "v".repeat(513) } }, {}, 400, "metadata.k"],
    ["webhook that is not a URL", { model: "gpt-5-pro", webhook: { url: "nope" } }, {}, 400, "webhook.url"],
    [
      "webhook with a file: scheme",
      { model: "gpt-5-pro", webhook: { url: "file:///etc/passwd" } },
      {},
      400,
      "webhook.url",
    ],
    [
      "webhook with credentials",
      { model: "gpt-5-pro", webhook: { url: "https://u:p@example.com/h" } },
      {},
      400,
      "webhook.url",
    ],
    [
      "unknown webhook event",
      { model: "gpt-5-pro", webhook: { url: "https://example.com/h", events: ["response.done"] } },
      {},
      400,
      "webhook.events.0",
    ],
    [
      "unknown webhook field",
      { model: "gpt-5-pro", webhook: { url: "https://example.com/h", secret: "x" } },
      {},
      400,
      "webhook",
    ],
    ["a JSON array", [1, 2, 3], {}, 400, null],
    ["not JSON", "{model: gpt-5-pro", {}, 400, null],
    ["an empty body", "", {}, 400, null],
    [
      "an Idempotency-Key too long",
      { model: "gpt-5-pro" },
      { "idempotency-key": "k".repeat(256) },
      400,
      "Idempotency-Key",
    ],
    ["a body over the limit", { model: "gpt-5-pro", input: "x".repeat(70 * 1024) }, {}, 413, null],
  ];
  it.each(cases)(
    "%s gets a clear OpenAI-shaped error and writes nothing",
    async (_name, body, headers, status, param) => {
      const creates = relay.sim.stats().ops.create;
      const before = (await relay.call("GET", "/v1/responses?limit=100")).body.data.length;
      const res = await relay.call("POST", "/v1/responses", body, headers);
      expect(res.status).toBe(status);
      expectOpenAIError(res.body);
      expect(res.body.error.param).toBe(param);
      expect(relay.sim.stats().ops.create).toBe(creates);
      expect((await relay.call("GET", "/v1/responses?limit=100")).body.data.length).toBe(before);
    },
  );

  it("rejects bad list parameters", async () => {
    expect((await relay.call("GET", "/v1/responses?status=done")).status).toBe(400);
    expect((await relay.call("GET", "/v1/responses?limit=0")).status).toBe(400);
    expect((await relay.call("GET", "/v1/responses?limit=abc")).status).toBe(400);
  });

  it("answers unknown ids and URLs with 404", async () => {
    const res = await relay.call("GET", "/v1/responses/resp_doesnotexist");
    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe("Response with id 'resp_doesnotexist' not found.");
    expect((await relay.call("GET", "/v1/nothing-here")).status).toBe(404);
  });
});

describe("authentication", () => {
  it("needs a bearer key on every /v1 call, and never echoes it", async () => {
    for (const [method, path] of [
      ["GET", "/v1/responses"],
      ["POST", "/v1/responses"],
      ["GET", "/v1/responses/resp_x"],
      ["POST", "/v1/responses/resp_x/cancel"],
    ] as const) {
      const res = await relay.call(method, path, method === "POST" ? { model: "m" } : undefined, {}, null);
      expect(res.status, `${method} ${path}`).toBe(401);
      expectOpenAIError(res.body);
    }
    const wrong = await relay.call("GET", "/v1/responses", undefined, {}, "rr_this-is-a-wrong-key-1234");
    expect(wrong.status).toBe(401);
    expect(JSON.stringify(wrong.body)).not.toContain("rr_this-is-a-wrong-key");
  });

  it("leaves health, the OpenAPI document and the docs page open", async () => {
    expect((await relay.call("GET", "/health", undefined, {}, null)).body).toEqual({ status: "ok" });
    const doc = await relay.call("GET", "/openapi.json", undefined, {}, null);
    expect(doc.body.openapi).toBe("3.1.0");
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(["/v1/responses", "/v1/responses/{id}", "/v1/responses/{id}/cancel"]),
    );
    const docs = await fetch(`${relay.url}/docs`);
    expect(docs.headers.get("content-type")).toContain("text/html");
    expect(await docs.text()).toContain("POST /v1/responses");
  });

  it("stops accepting a revoked key at once where it was revoked, within seconds elsewhere", async () => {
    const { apiKey } = await createTenant(relay.deps.tenants, { name: "short-lived" });
    // Another instance on the same table, which has the key cached (its cache cut short here).
    const elsewhere = new DynamoTenantStore({ doc: relay.table.doc, tableName: relay.table.tableName, cacheMs: 200 });
    const app = createApp({ ...relay.deps, tenants: elsewhere }, { maxBodyBytes: 1 << 20, log: () => {} });
    const get = () => app.request("/v1/responses", { headers: { authorization: `Bearer ${apiKey}` } });
    expect((await relay.call("GET", "/v1/responses", undefined, {}, apiKey)).status).toBe(200);
    expect((await get()).status).toBe(200);
    expect(await revokeKey(relay.deps.tenants, apiKey)).toBe(true);
    const refused = await relay.call("GET", "/v1/responses", undefined, {}, apiKey);
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe("invalid_api_key");
    // The other instance still has it cached, and forgets it when its cache runs out.
    expect((await get()).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await get()).status).toBe(401);
    // The bound the README states: at most 10 s anywhere.
    expect(KEY_CACHE_MS).toBeLessThanOrEqual(10_000);
  });

  it("accepts a key at once where it was added, even if it was just tried", async () => {
    const { tenant } = await createTenant(relay.deps.tenants, { name: "new-key" });
    const key = `rr_${"a".repeat(40)}${Date.now()}`;
    expect((await relay.call("GET", "/v1/responses", undefined, {}, key)).status).toBe(401);
    await addKey(relay.deps.tenants, tenant.id, key);
    expect((await relay.call("GET", "/v1/responses", undefined, {}, key)).status).toBe(200);
  });
});

describe("tenants", () => {
  it("never lets one tenant read, cancel or list another's job (404, as if it did not exist)", async () => {
    const mine = await relay.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "private" });
    const other = await createTenant(relay.deps.tenants, { name: "other" });
    const read = await relay.call("GET", `/v1/responses/${mine.body.id}`, undefined, {}, other.apiKey);
    expect(read.status).toBe(404);
    expect(read.body.error.message).toBe(`Response with id '${mine.body.id}' not found.`);
    const cancel = await relay.call("POST", `/v1/responses/${mine.body.id}/cancel`, undefined, {}, other.apiKey);
    expect(cancel.status).toBe(404);
    expect((await relay.call("GET", `/v1/responses/${mine.body.id}`)).body.status).not.toBe("cancelled");
    const list = await relay.call("GET", "/v1/responses", undefined, {}, other.apiKey);
    expect(list.body.data).toEqual([]);
    // and an `after` cursor naming another tenant's job yields nothing of theirs
    const after = await relay.call("GET", `/v1/responses?after=${mine.body.id}`, undefined, {}, other.apiKey);
    expect(after.body.data).toEqual([]);
  });
});

describe("listing", () => {
  it("pages newest first with a cursor and filters by status", async () => {
    const { apiKey } = await createTenant(relay.deps.tenants, { name: "lister" });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      relay.clock.advance(1000);
      ids.push(
        (
          await relay.call(
            "POST",
            "/v1/responses",
            { background: true, model: "gpt-5-pro", input: `job ${i}` },
            {},
            apiKey,
          )
        ).body.id,
      );
    }
    await relay.call("POST", `/v1/responses/${ids[1]}/cancel`, undefined, {}, apiKey);
    const first = (await relay.call("GET", "/v1/responses?limit=2", undefined, {}, apiKey)).body;
    expect(first).toMatchObject({ object: "list", has_more: true, first_id: ids[4], last_id: ids[3] });
    expect(first.data.map((j: any) => j.id)).toEqual([ids[4], ids[3]]);
    const second = (await relay.call("GET", `/v1/responses?limit=2&after=${first.last_id}`, undefined, {}, apiKey))
      .body;
    expect(second.data.map((j: any) => j.id)).toEqual([ids[2], ids[1]]);
    const third = (await relay.call("GET", `/v1/responses?limit=2&after=${second.last_id}`, undefined, {}, apiKey))
      .body;
    expect(third.data.map((j: any) => j.id)).toEqual([ids[0]]);
    expect(third.has_more).toBe(false);
    const cancelled = (await relay.call("GET", "/v1/responses?status=cancelled", undefined, {}, apiKey)).body;
    expect(cancelled.data.map((j: any) => j.id)).toEqual([ids[1]]);
  });
});
