/**
 * A local stand-in for the OpenAI Responses API in background mode: create, retrieve, stream with resume,
 * cancel, delete, OpenAI-style webhooks, plus switches for the faults a relay must survive. Time comes
 * from an injected Clock, so tests drive hour-long jobs with a ManualClock in milliseconds.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { systemClock } from "#shared/clock.ts";
import { parseBehaviourPatch } from "./config-schema.ts";
import { ConversationStore } from "./conversations.ts";
import { FaultQueue } from "./faults.ts";
import { renderResponse } from "./response-object.ts";
import { basePath } from "./routes.ts";
import { createRequestHandler } from "./server.ts";
import type { SimState } from "./state.ts";
import { StatsCounter } from "./stats.ts";
import { JobStore } from "./store.ts";
import { Ticker } from "./ticker.ts";
import { DEFAULT_BEHAVIOUR, type SimBehaviour, type Simulator, type SimulatorOptions } from "./types.ts";
import { WebhookNotifier } from "./webhooks.ts";

export type {
  SimBehaviour,
  SimFault,
  SimOp,
  SimOutcome,
  SimStats,
  Simulator,
  SimulatorOptions,
  WebhookConfig,
} from "./types.ts";
export { DEFAULT_BEHAVIOUR } from "./types.ts";

const listen = (server: Server, port: number) =>
  new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? (() => {});
  const stats = new StatsCounter();
  const state: SimState = {
    clock,
    behaviour: { ...DEFAULT_BEHAVIOUR, ...parseBehaviourPatch(opts.behaviour ?? {}) },
    azure: opts.azure ?? false,
    flavour: opts.flavour ?? "openai",
    apiKey: opts.apiKey,
    store: new JobStore(),
    conversations: new ConversationStore(),
    stats,
    faults: new FaultQueue(opts.seed ?? 0x5eed),
    webhooks: new WebhookNotifier(clock, stats, log),
    ticker: new Ticker(),
    log,
    closing: false,
  };

  const server = createServer();
  // Long streams must not be cut by Node's defaults; faults decide when sockets die.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 5_000;

  let closed: Promise<void> | null = null;
  const sim: Simulator = {
    url: "",
    origin: "",
    configure(patch) {
      Object.assign(state.behaviour, parseBehaviourPatch(patch));
    },
    behaviour: (): SimBehaviour => ({ ...state.behaviour }),
    injectFault: (f) => state.faults.add(f),
    clearFaults: () => state.faults.clear(),
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    getResponse(id) {
      const job = state.store.get(id, clock.now());
      return job ? renderResponse(job, clock.now()) : undefined;
    },
    setWebhook: (cfg) => state.webhooks.configure(cfg),
    close() {
      closed ??= (async () => {
        state.closing = true;
        state.ticker.stop();
        state.webhooks.close();
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await done;
      })();
      return closed;
    },
  };

  server.on("request", createRequestHandler(state, sim));
  await listen(server, opts.port ?? 0);
  const { port } = server.address() as AddressInfo;
  sim.origin = `http://127.0.0.1:${port}`;
  sim.url = `${sim.origin}${basePath(state.azure)}`;
  log(
    `Responses API simulator on ${sim.url}${state.azure ? " (azure mode)" : ""}${state.flavour !== "openai" ? ` (${state.flavour})` : ""}`,
  );
  return sim;
}
