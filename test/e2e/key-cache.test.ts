/**
 * The API-key cache (shared/store/dynamo-tenant-store.ts) that every request, status polls above
 * all, goes through: one lookup for many concurrent requests, a lookup ahead of expiry that no
 * request waits for, and never an answer used longer than the cache's bound after it was read.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "#shared/ids.ts";
import { CapacityMeter, createDynamoClients } from "#shared/store/dynamo-client.ts";
import { DynamoTenantStore } from "#shared/store/dynamo-tenant-store.ts";
import { createTenant, revokeKey } from "#shared/use-cases/manage-keys.ts";
import { createTestTable } from "#test/support/dynamo.ts";

let table: Awaited<ReturnType<typeof createTestTable>>;
let admin: DynamoTenantStore;
beforeAll(async () => {
  table = await createTestTable("key-cache");
  admin = new DynamoTenantStore({ doc: table.doc, tableName: table.tableName });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A store as another instance has it: its own cache, its reads counted (and slowed, if asked). */
function instance(cacheMs: number, readDelayMs = 0) {
  const meter = new CapacityMeter();
  const { doc } = createDynamoClients({ endpoint: table.endpoint, meter });
  const slow = {
    send: async (command: unknown) => {
      const result = await doc.send(command as never);
      if (readDelayMs > 0 && command instanceof GetCommand) await sleep(readDelayMs);
      return result;
    },
  } as unknown as DynamoDBDocumentClient;
  return { meter, store: new DynamoTenantStore({ doc: slow, tableName: table.tableName, cacheMs }) };
}

describe("the key cache", () => {
  it("answers concurrent requests that find no answer with one lookup", async () => {
    const { apiKey, tenant } = await createTenant(admin, { name: "many" });
    const { meter, store } = instance(5_000);
    const answers = await Promise.all(Array.from({ length: 20 }, () => store.tenantForKeyHash(sha256Hex(apiKey))));
    expect(answers.every((t) => t?.id === tenant.id)).toBe(true);
    // The key item and the tenant item, once.
    expect(meter.requests).toBe(2);
  });

  it("looks a key in use up again before its answer runs out, and no request waits for that", async () => {
    const { apiKey, tenant } = await createTenant(admin, { name: "busy" });
    const hash = sha256Hex(apiKey);
    // Answers serve 1 s from when their read was sent, looked up again in their last 500 ms.
    const { meter, store } = instance(1_000, 50);
    const sent = performance.now();
    await store.tenantForKeyHash(hash);
    expect(meter.requests).toBe(2);
    await sleep(sent + 650 - performance.now());
    // In its last 500 ms: served from it at once, the lookup goes on behind.
    const started = performance.now();
    expect((await store.tenantForKeyHash(hash))?.id).toBe(tenant.id);
    expect(performance.now() - started).toBeLessThan(40);
    await sleep(sent + 1_150 - performance.now());
    // Past the first answer's end: the new one serves, nobody looked up in between.
    const calls = meter.requests;
    expect(calls).toBe(4);
    expect((await store.tenantForKeyHash(hash))?.id).toBe(tenant.id);
    expect(meter.requests).toBe(calls);
  });

  it("never uses an answer longer than the bound after its read: a key revoked elsewhere stops in time", async () => {
    const { apiKey } = await createTenant(admin, { name: "revoked elsewhere" });
    const hash = sha256Hex(apiKey);
    const cacheMs = 300;
    const { store } = instance(cacheMs, 30);
    // A steady caller keeps the answer refreshed ahead of its end.
    const until = performance.now() + 700;
    let revokedAt = 0;
    let refusedAt = 0;
    while (performance.now() < until + 2 * cacheMs && refusedAt === 0) {
      if (revokedAt === 0 && performance.now() >= until - 400) {
        await revokeKey(admin, apiKey);
        revokedAt = performance.now();
      }
      if ((await store.tenantForKeyHash(hash)) === null && revokedAt > 0) refusedAt = performance.now();
      await sleep(10);
    }
    expect(revokedAt).toBeGreaterThan(0);
    expect(refusedAt).toBeGreaterThan(0);
    expect(refusedAt - revokedAt).toBeLessThanOrEqual(cacheMs + 100);
  });

  it("keeps a lookup that was in flight from undoing a revocation made here", async () => {
    const { apiKey } = await createTenant(admin, { name: "revoked here" });
    const hash = sha256Hex(apiKey);
    // Reads answer late, so the lookup below is still in flight when the key is revoked.
    const { store } = instance(5_000, 150);
    const inFlight = store.tenantForKeyHash(hash);
    expect(await store.revokeKey(hash)).toBe(true);
    // It began before the revocation and answers as of then; what it read is not kept.
    expect(await inFlight).not.toBeNull();
    expect(await store.tenantForKeyHash(hash)).toBeNull();
  });
});
