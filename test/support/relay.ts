import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { ManualClock, type Clock } from "#shared/clock.ts";
import { loadConfig } from "#shared/config.ts";
import { createApp } from "#shared/http/app.ts";
import { Poller, type PollerOptions } from "#shared/poller/poller.ts";
import type { Deps, LifecycleEvent } from "#shared/ports.ts";
import type { Resolver } from "#shared/webhooks/address-policy.ts";
import { createDeps, localWorkersOf, promptDeliveriesOf } from "#shared/runtime.ts";
import { createTenant } from "#shared/use-cases/manage-keys.ts";
import { startSimulator, type Simulator } from "#local/simulator/index.ts";
import type { SimBehaviour, SimulatorOptions } from "#local/simulator/types.ts";
import { createTestTable } from "./dynamo.ts";
import { TERMINAL_STATUSES } from "#shared/domain/job.ts";

export interface RelayHarnessOptions {
  clock?: Clock;
  behaviour?: Partial<SimBehaviour>;
  env?: Record<string, string>;
  /** DNS for webhook hosts (a rebinding resolver, a name that resolves private…). */
  resolve?: Resolver;
  /** How long a blocking create waits here (real ms). */
  localWaitMs?: number;
  /** Give the table its change stream (only the outbox's tests read it: test/support/dynamo.ts). */
  stream?: boolean;
  /**
   * More upstreams: a simulator per name (a flavour: `ollama`, `chat`…), and the upstreams
   * document (`RELAY_UPSTREAMS`) built from their URLs (`main`: the default simulator's).
   */
  upstreams?: {
    sims: Record<string, Pick<SimulatorOptions, "flavour" | "behaviour">>;
    config: (urls: Record<string, string> & { main: string }) => unknown;
  };
}

/**
 * The relay as a user meets it: real HTTP to the Hono app, DynamoDB Local, the simulator upstream.
 * Time is a ManualClock shared by the relay and the simulator, so hours pass in a loop.
 */
export async function startRelay(options: RelayHarnessOptions = {}) {
  const clock = (options.clock ?? new ManualClock()) as ManualClock;
  const table = await createTestTable("relay-test", { stream: options.stream });
  const sim = await startSimulator({ clock, behaviour: options.behaviour });
  const sims: Record<string, Simulator> = {};
  for (const [name, simOptions] of Object.entries(options.upstreams?.sims ?? {}))
    sims[name] = await startSimulator({ clock, ...simOptions });
  const urls = { main: sim.url, ...Object.fromEntries(Object.entries(sims).map(([n, s]) => [n, s.url])) };
  const config = loadConfig({
    RELAY_TABLE_NAME: table.tableName,
    DYNAMODB_ENDPOINT: table.endpoint,
    OPENAI_BASE_URL: sim.url,
    OPENAI_API_KEY: "sk-simulator",
    RELAY_ALLOW_PRIVATE_WEBHOOKS: "true",
    RELAY_CREATE_GRACE_MS: "60000",
    // Step-by-step tests read the end off a poll at a known tick; the stream watch (which hears it
    // asynchronously, between ticks) is switched on by the tests about it (test/e2e/stream-watch.test.ts).
    RELAY_WATCH_STREAMS: "false",
    ...(options.upstreams ? { RELAY_UPSTREAMS: JSON.stringify(options.upstreams.config(urls)) } : {}),
    ...options.env,
  });
  // Lifecycle events are kept in memory so tests can read what the bus would have received.
  const events: LifecycleEvent[] = [];
  const metrics: { name: string; value: number }[] = [];
  const deps: Deps = createDeps(config, {
    clock,
    log: () => {},
    events: { publish: async (batch) => void events.push(...batch) },
    metrics: { emit: (name, value) => void metrics.push({ name, value }) },
    resolve: options.resolve,
  });
  const app = createApp(deps, {
    maxBodyBytes: config.maxBodyBytes,
    log: () => {},
    openaiWebhookSecret: config.openaiWebhookSecret,
    localWaitMs: options.localWaitMs,
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { apiKey, tenant } = await createTenant(deps.tenants, { name: "test" });

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    key: string | null = apiKey,
  ) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: response.status, headers: response.headers, body: json };
  };

  // Step-driven: a tick returns once the webhooks it handed to the delivery lane are sent.
  const pollers = new Set<Poller>();
  const newPoller = (opts: PollerOptions = {}) => {
    const made = new Poller(deps, { tickMs: 1000, awaitDeliveries: true, maxWatches: config.maxWatches, ...opts });
    pollers.add(made);
    return made;
  };
  const poller = newPoller();

  /** Moves time in steps and ticks the poller until `done()` holds (or gives up). */
  const runUntil = async (
    done: () => Promise<boolean> | boolean,
    { stepMs = 1000, maxSteps = 400, pollers = [poller] } = {},
  ) => {
    for (let i = 0; i < maxSteps; i++) {
      if (await done()) return i;
      clock.advance(stepMs);
      await Promise.all(pollers.map((p) => p.tick()));
    }
    throw new Error(`condition not reached after ${maxSteps} steps`);
  };

  const settle = async (id: string, opts?: Parameters<typeof runUntil>[1]) => {
    let last: any;
    await runUntil(async () => {
      last = (await call("GET", `/v1/responses/${id}`)).body;
      return TERMINAL_STATUSES.has(last.status);
    }, opts);
    return last;
  };

  return {
    url,
    events,
    metrics,
    apiKey,
    tenant,
    deps,
    sim: sim as Simulator,
    /** The extra upstreams' simulators, by name. */
    sims,
    /** The in-process worker pool that runs jobs of upstreams without background mode. */
    workers: localWorkersOf(deps),
    clock,
    table,
    poller,
    newPoller,
    call,
    runUntil,
    settle,
    async close() {
      await poller.releaseAll();
      await Promise.all([...pollers].map((p) => p.stopWatches()));
      await localWorkersOf(deps)?.stopAll();
      await promptDeliveriesOf(deps)?.idle();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sim.close();
      for (const extra of Object.values(sims)) await extra.close();
    },
  };
}

export type RelayHarness = Awaited<ReturnType<typeof startRelay>>;
