/**
 * Where a job's DynamoDB units go: one 10-second job, submitted over HTTP with a webhook, polled to
 * the end and delivered, with every request asking DynamoDB for per-index consumed capacity
 * (`ReturnConsumedCapacity: INDEXES`) and labelled with the store method that made it.
 * The adapters are composed here as shared/runtime.ts composes them, over one instrumented client.
 */
import { ManualClock } from "#shared/clock.ts";
import { loadConfig } from "#shared/config.ts";
import { createApp } from "#shared/http/app.ts";
import { Poller } from "#shared/poller/poller.ts";
import type { Deps } from "#shared/ports.ts";
import { createDeps } from "#shared/runtime.ts";
import { createDynamoClients } from "#shared/store/dynamo-client.ts";
import { DynamoDeliveryLog } from "#shared/store/dynamo-delivery-log.ts";
import { DynamoInbox } from "#shared/store/dynamo-inbox.ts";
import { DynamoJobStore } from "#shared/store/dynamo-job-store.ts";
import { DynamoLeaseStore } from "#shared/store/dynamo-lease-store.ts";
import { DynamoTenantStore } from "#shared/store/dynamo-tenant-store.ts";
import { createTenant } from "#shared/use-cases/manage-keys.ts";
import { startSimulator } from "#local/simulator/index.ts";
import { startBenchReceiver } from "#bench/lib/receiver.ts";
import { createTable } from "#bench/lib/stack.ts";
import { round } from "#bench/lib/stats.ts";

interface AnatomyRow {
  /** `phase: store.method (DynamoDB command)`. */
  operation: string;
  calls: number;
  read: number;
  write: number;
  /** Write units by table and index ("table", "due", "tenant", "upstream"). */
  byIndex: Record<string, number>;
}

export interface AnatomyResult {
  rows: AnatomyRow[];
  /** The job's own units (submit, poller work on it, delivery), without status reads and the poller's fixed cost. */
  total: { read: number; write: number; byIndex: Record<string, number> };
  /** The job item's size as JSON (DynamoDB's size is close to it). */
  itemBytes: number;
}

const WRITES = new Set([
  "PutItemCommand",
  "UpdateItemCommand",
  "DeleteItemCommand",
  "BatchWriteItemCommand",
  "TransactWriteItemsCommand",
]);

export async function runAnatomy(dynamoEndpoint: string): Promise<AnatomyResult> {
  // Injected time starts at the real now: item TTLs (retention days from the clock) must not lie in the past.
  const clock = new ManualClock(Date.now());
  const sim = await startSimulator({ clock, behaviour: { queuedMs: 2_000, runMs: 8_000 } });
  const tableName = await createTable(dynamoEndpoint, "bench-anatomy");
  const config = loadConfig({
    RELAY_TABLE_NAME: tableName,
    DYNAMODB_ENDPOINT: dynamoEndpoint,
    OPENAI_BASE_URL: sim.url,
    OPENAI_API_KEY: "sk-bench",
    RELAY_ALLOW_PRIVATE_WEBHOOKS: "true",
    RELAY_PUBLIC_URL: "http://127.0.0.1:1",
  });

  let label = "setup";
  let phase = "setup";
  const rows = new Map<string, AnatomyRow>();
  const { client, doc } = createDynamoClients({ endpoint: dynamoEndpoint });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      (args.input as Record<string, unknown>).ReturnConsumedCapacity = "INDEXES";
      const result = await next(args);
      type Consumed = {
        CapacityUnits?: number;
        Table?: { CapacityUnits?: number };
        GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
      };
      const raw = (result.output as { ConsumedCapacity?: Consumed | Consumed[] }).ConsumedCapacity;
      const command = context.commandName ?? "?";
      const key = `${phase}: ${label} (${command.replace(/Command$/, "")})`;
      const row = rows.get(key) ?? { operation: key, calls: 0, read: 0, write: 0, byIndex: {} };
      row.calls++;
      for (const c of Array.isArray(raw) ? raw : raw ? [raw] : []) {
        if (!WRITES.has(command)) {
          row.read += c.CapacityUnits ?? 0;
          continue;
        }
        row.write += c.CapacityUnits ?? 0;
        row.byIndex.table = (row.byIndex.table ?? 0) + (c.Table?.CapacityUnits ?? 0);
        for (const [index, units] of Object.entries(c.GlobalSecondaryIndexes ?? {}))
          row.byIndex[index] = (row.byIndex[index] ?? 0) + (units.CapacityUnits ?? 0);
      }
      rows.set(key, row);
      return result;
    },
    { step: "initialize", name: "benchAnatomy", priority: "high" },
  );
  const labelled = <T extends object>(name: string, store: T): T => {
    for (const method of Object.getOwnPropertyNames(Object.getPrototypeOf(store))) {
      const fn = (store as Record<string, unknown>)[method];
      if (method === "constructor" || typeof fn !== "function") continue;
      // Not async: sync methods (e.g. the store's shardOf) must keep returning plain values, and
      // must not take the label from the async method that called them.
      (store as Record<string, unknown>)[method] = (...args: unknown[]) => {
        const outer = label;
        label = `${name}.${method}`;
        const result = (fn as (...a: unknown[]) => unknown).apply(store, args);
        if (!(result instanceof Promise)) label = outer;
        return result;
      };
    }
    return store;
  };
  const base = createDeps(config, { clock, log: () => {}, events: { publish: async () => {} } });
  const deps: Deps = {
    ...base,
    jobs: labelled(
      "jobs",
      new DynamoJobStore({ doc, tableName, shards: config.dueShards, retentionDays: config.retentionDays }),
    ),
    tenants: labelled("tenants", new DynamoTenantStore({ doc, tableName })),
    leases: labelled("leases", new DynamoLeaseStore({ doc, tableName })),
    deliveries: labelled("deliveries", new DynamoDeliveryLog({ doc, tableName, retentionDays: config.retentionDays })),
    inbox: labelled("inbox", new DynamoInbox({ doc, tableName })),
  };
  const { tenant, apiKey } = await createTenant(deps.tenants, { name: "anatomy", nowMs: clock.now() });
  const receiver = await startBenchReceiver(tenant.webhookSecrets[0]!, clock);
  const app = createApp(deps, { maxBodyBytes: config.maxBodyBytes, log: () => {} });
  try {
    rows.clear();
    phase = "submit";
    const res = await app.request("/v1/responses", {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        // Background: a plain create now waits for the job's end, and this clock moves only below.
        background: true,
        model: "gpt-5-pro",
        input: "Where do the write units go?",
        webhook: { url: receiver.url },
      }),
    });
    if (res.status !== 202) throw new Error(`anatomy submit failed: ${res.status} ${await res.text()}`);
    const { id } = (await res.json()) as { id: string };
    const poller = new Poller(deps, { tickMs: 2_000 });
    for (let i = 0; i < 60 && receiver.arrivals.length === 0; i++) {
      clock.advance(2_000);
      // Poller phases: leases and the due index are its fixed cost, the rest is this job's.
      phase = "poller";
      await poller.tick();
    }
    if (receiver.arrivals.length === 0) throw new Error("anatomy job was not delivered");
    await poller.releaseAll();
    phase = "status";
    await app.request(`/v1/responses/${id}`, { headers: { authorization: `Bearer ${apiKey}` } });
    const job = await base.jobs.get(id);
    const itemBytes = Buffer.byteLength(JSON.stringify(job));

    const list = [...rows.values()].map((r) => ({
      ...r,
      read: round(r.read, 2),
      write: round(r.write, 2),
      byIndex: Object.fromEntries(Object.entries(r.byIndex).map(([k, v]) => [k, round(v, 2)])),
    }));
    const total = { read: 0, write: 0, byIndex: {} as Record<string, number> };
    for (const r of list) {
      if (r.operation.startsWith("status") || /leases\.|queryDue/.test(r.operation)) continue;
      total.read += r.read;
      total.write += r.write;
      for (const [k, v] of Object.entries(r.byIndex)) total.byIndex[k] = round((total.byIndex[k] ?? 0) + v, 2);
    }
    return { rows: list, total: { ...total, read: round(total.read, 2), write: round(total.write, 2) }, itemBytes };
  } finally {
    await receiver.close();
    await sim.close();
    client.destroy();
  }
}
