import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";

let relay: RelayHarness;
beforeAll(async () => {
  relay = await startRelay({ behaviour: { latencyMs: 20 } });
});
afterAll(() => relay.close());

describe("Idempotency-Key", () => {
  it("makes exactly one upstream create for 50 concurrent submits with one key", async () => {
    const body = { background: true, model: "gpt-5-pro", input: "only once", metadata: { a: "1" } };
    const creates = relay.sim.stats().ops.create;
    const results = await Promise.all(
      Array.from({ length: 50 }, () => relay.call("POST", "/v1/responses", body, { "idempotency-key": "key-fifty" })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(202));
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect(results.filter((r) => r.headers.get("idempotent-replayed") === "true")).toHaveLength(49);
    expect(relay.sim.stats().ops.create - creates).toBe(1);
    const list = await relay.call("GET", "/v1/responses?limit=100");
    expect(list.body.data.filter((j: any) => j.id === results[0]!.body.id)).toHaveLength(1);
    expect(list.body.data).toHaveLength(1);
  });

  it("returns the same job for the same key and body (key order does not matter)", async () => {
    const a = await relay.call(
      "POST",
      "/v1/responses",
      { background: true, model: "gpt-5-pro", input: "same", metadata: { x: "1", y: "2" } },
      { "idempotency-key": "k2" },
    );
    const b = await relay.call(
      "POST",
      "/v1/responses",
      { metadata: { y: "2", x: "1" }, input: "same", model: "gpt-5-pro", background: true },
      { "idempotency-key": "k2" },
    );
    expect(b.status).toBe(202);
    expect(b.body.id).toBe(a.body.id);
  });

  it("refuses the same key with another body (422) and changes nothing", async () => {
    const a = await relay.call(
      "POST",
      "/v1/responses",
      { background: true, model: "gpt-5-pro", input: "first" },
      { "idempotency-key": "k3" },
    );
    const creates = relay.sim.stats().ops.create;
    const jobs = (await relay.call("GET", "/v1/responses?limit=100")).body.data.length;
    const b = await relay.call(
      "POST",
      "/v1/responses",
      { background: true, model: "gpt-5-pro", input: "second" },
      { "idempotency-key": "k3" },
    );
    expect(b.status).toBe(422);
    expect(b.body.error).toMatchObject({ code: "idempotency_key_reused", param: "Idempotency-Key" });
    expect(relay.sim.stats().ops.create).toBe(creates);
    expect((await relay.call("GET", "/v1/responses?limit=100")).body.data.length).toBe(jobs);
    expect((await relay.call("GET", `/v1/responses/${a.body.id}`)).status).toBe(200);
  });

  it("keeps keys for 24 hours, then lets them start a new job", async () => {
    const a = await relay.call(
      "POST",
      "/v1/responses",
      { background: true, model: "gpt-5-pro", input: "day" },
      { "idempotency-key": "k4" },
    );
    relay.clock.advance(23 * 3600_000);
    expect(
      (
        await relay.call(
          "POST",
          "/v1/responses",
          { background: true, model: "gpt-5-pro", input: "day" },
          { "idempotency-key": "k4" },
        )
      ).body.id,
    ).toBe(a.body.id);
    relay.clock.advance(2 * 3600_000);
    const later = await relay.call(
      "POST",
      "/v1/responses",
      { background: true, model: "gpt-5-pro", input: "day" },
      { "idempotency-key": "k4" },
    );
    expect(later.status).toBe(202);
    expect(later.body.id).not.toBe(a.body.id);
  });

  it("scopes keys to the tenant", async () => {
    const { createTenant } = await import("#shared/use-cases/manage-keys.ts");
    const other = await createTenant(relay.deps.tenants, { name: "other" });
    const mine = await relay.call(
      "POST",
      "/v1/responses",
      { background: true, model: "gpt-5-pro", input: "t" },
      { "idempotency-key": "shared-key" },
    );
    const theirs = await relay.call(
      "POST",
      "/v1/responses",
      { background: true, model: "gpt-5-pro", input: "t" },
      { "idempotency-key": "shared-key" },
      other.apiKey,
    );
    expect(theirs.status).toBe(202);
    expect(theirs.body.id).not.toBe(mine.body.id);
  });
});
