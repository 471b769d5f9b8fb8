/**
 * The local stack as the benchmark runs it: the relay's HTTP app served on loopback, pollers, and
 * DynamoDB clients metered per role, over one DynamoDB Local and one simulator per scenario.
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { systemClock, type Clock } from "#shared/clock.ts";
import { loadConfig, type RelayConfig } from "#shared/config.ts";
import { createApp } from "#shared/http/app.ts";
import { Poller, type PollerOptions } from "#shared/poller/poller.ts";
import type { TenantLimits } from "#shared/domain/tenant-limits.ts";
import type { Deps } from "#shared/ports.ts";
import { createDeps } from "#shared/runtime.ts";
import { CapacityMeter, createDynamoClients } from "#shared/store/dynamo-client.ts";
import { DynamoJobStore } from "#shared/store/dynamo-job-store.ts";
import { DynamoLeaseStore } from "#shared/store/dynamo-lease-store.ts";
import { createTenant } from "#shared/use-cases/manage-keys.ts";
import { ensureTable, freePort } from "#local/dynamodb-local.ts";

interface Meters {
  /** The HTTP API: submit, status, OpenAI-webhook ingestion. */
  api: CapacityMeter;
  /** The poller's work on jobs: reads, transitions, outputs, webhook delivery records. */
  jobs: CapacityMeter;
  /** The poller's fixed cost: shard leases and due-index queries, paid whether or not jobs exist. */
  overhead: CapacityMeter;
}

export interface RelayStackOptions {
  dynamoEndpoint: string;
  upstreamUrl: string;
  clock?: Clock;
  /** `whsec_…`: enables /v1/webhooks/openai. */
  openaiWebhookSecret?: string;
  env?: Record<string, string>;
  tablePrefix?: string;
  /** The bench tenant's limits where a section sends more than the defaults allow (e.g. 6,000 requests a minute). */
  tenantLimits?: Partial<TenantLimits>;
}

export async function createTable(endpoint: string, prefix = "bench"): Promise<string> {
  const tableName = `${prefix}-${randomBytes(4).toString("hex")}`;
  const { client } = createDynamoClients({ endpoint });
  // No change stream: nothing here reads it, and in DynamoDB Local each streamed table slows the
  // writes of the next (local/dynamodb-local.ts), which would skew every later section.
  await ensureTable(client, tableName, { stream: false });
  client.destroy();
  return tableName;
}

const quiet = { log: () => {}, events: { publish: async () => {} } };

/**
 * One relay over a fresh table: the app (with its own metered clients) on a loopback port, and a
 * factory for pollers whose DynamoDB traffic is split into per-job work and fixed overhead.
 */
export async function startRelayStack(options: RelayStackOptions) {
  const clock = options.clock ?? systemClock;
  const tableName = await createTable(options.dynamoEndpoint, options.tablePrefix);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config: RelayConfig = loadConfig({
    RELAY_TABLE_NAME: tableName,
    DYNAMODB_ENDPOINT: options.dynamoEndpoint,
    OPENAI_BASE_URL: options.upstreamUrl,
    OPENAI_API_KEY: "sk-bench",
    RELAY_ALLOW_PRIVATE_WEBHOOKS: "true",
    RELAY_PUBLIC_URL: url,
    ...(options.openaiWebhookSecret ? { OPENAI_WEBHOOK_SECRET: options.openaiWebhookSecret } : {}),
    ...options.env,
  });
  const meters: Meters = { api: new CapacityMeter(), jobs: new CapacityMeter(), overhead: new CapacityMeter() };
  const apiDeps = createDeps(config, { clock, meter: meters.api, ...quiet });
  const pollerDeps = splitPollerDeps(config, clock, meters);

  const { tenant, apiKey } = await createTenant(apiDeps.tenants, { name: "bench", nowMs: clock.now() });
  if (options.tenantLimits) await apiDeps.tenants.putTenant({ ...tenant, limits: options.tenantLimits });
  meters.api.reset();
  const app = createApp(apiDeps, {
    maxBodyBytes: config.maxBodyBytes,
    openaiWebhookSecret: config.openaiWebhookSecret,
    log: () => {},
  });
  const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  server.keepAliveTimeout = 10_000;

  const pollers = new Set<Poller>();
  return {
    url,
    tableName,
    config,
    apiKey,
    app,
    tenantId: tenant.id,
    webhookSecret: tenant.webhookSecrets[0]!,
    apiDeps,
    pollerDeps,
    meters,
    clock,
    newPoller(opts: PollerOptions = {}): Poller {
      const poller = new Poller(pollerDeps, {
        tickMs: config.pollTickMs,
        concurrency: config.pollConcurrency,
        maxWatches: config.maxWatches,
        ...opts,
      });
      pollers.add(poller);
      return poller;
    },
    async close() {
      await Promise.all([...pollers].map((p) => p.releaseAll().catch(() => undefined)));
      await Promise.all([...pollers].map((p) => p.stopWatches()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export type RelayStack = Awaited<ReturnType<typeof startRelayStack>>;

/** Poller deps whose lease and due-index traffic goes through a second, separately metered client. */
function splitPollerDeps(config: RelayConfig, clock: Clock, meters: Meters): Deps {
  const deps = createDeps(config, { clock, meter: meters.jobs, ...quiet });
  const overhead = createDynamoClients({
    endpoint: config.dynamoEndpoint,
    region: config.region,
    meter: meters.overhead,
  });
  const dueIndex = new DynamoJobStore({
    doc: overhead.doc,
    tableName: config.tableName,
    shards: config.dueShards,
    retentionDays: config.retentionDays,
  });
  deps.jobs.queryDue = (shard, fromMs, toMs) => dueIndex.queryDue(shard, fromMs, toMs);
  // Replaced in place: the Deps object keys its in-process lanes (promptDeliveriesOf), which a copy would lose.
  deps.leases = new DynamoLeaseStore({ doc: overhead.doc, tableName: config.tableName });
  return deps;
}

/**
 * The poller on the schedule EventBridge gives it in AWS (and `npm start` locally): an invocation
 * every minute, each ticking until 56 s are spent. Real time only.
 */
export function schedulePoller(stack: RelayStack): { stop(): Promise<void> } {
  const abort = new AbortController();
  const invoke = () =>
    stack
      .newPoller()
      .run({ budgetMs: 56_000, signal: abort.signal })
      .then(() => undefined)
      .catch((error) => console.error("poller invocation failed:", error));
  let running = invoke();
  const timer = setInterval(() => void (running = running.then(invoke)), 60_000);
  return {
    async stop() {
      clearInterval(timer);
      abort.abort();
      await running;
    },
  };
}

/** An authenticated JSON call to the relay. */
export async function relayCall(
  stack: Pick<RelayStack, "url" | "apiKey">,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${stack.apiKey}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* keep the text */
  }
  return { status: response.status, body: json };
}
