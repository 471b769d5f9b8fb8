/**
 * Tenant isolation (issue 12), real time: tenant B's status lag (upstream end → the relay's
 * terminal write) and webhook lag (upstream end → B's receiver has it) at baseline and while tenant
 * A's webhooks hang in a server that accepts TCP and never answers; and what stalled SSE readers
 * of a large output cost in memory (bench/stalled-readers-worker.ts, in its own process).
 */
import { runWorkerProcess } from "#bench/lib/worker-process.ts";
import { createServer, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { createTenant } from "#shared/use-cases/manage-keys.ts";
import { startSimulator } from "#local/simulator/index.ts";
import { startBenchReceiver } from "#bench/lib/receiver.ts";
import { applyLatencyProfile, finishedAtMs, installSimProbe } from "#bench/lib/sim-probe.ts";
import { relayCall, schedulePoller, startRelayStack } from "#bench/lib/stack.ts";
import { rounded, seeded, sleep, summarize, type Summary } from "#bench/lib/stats.ts";

export interface IsolationSettings {
  /** Tenant B's jobs per phase. */
  jobs: number;
  /** Tenant A's webhooks aimed at the black hole. */
  blackHoled: number;
  /** B's submissions are spread over this window (real ms). */
  spreadMs: number;
  runMs: [number, number];
  seed: number;
  stalledReaders: number;
  outputBytes: number;
}

interface Lags {
  statusLagMs: Summary;
  webhookLagMs: Summary;
}

export interface IsolationResult {
  baseline: Lags;
  blackHole: Lags & { blackHoled: number; hangingSends: number; waitingInLane: number };
  ratio: { statusP50: number; webhookP50: number; statusP99: number; webhookP99: number };
  stalledReaders: {
    readers: number;
    outputBytes: number;
    streamBytes: number;
    addedRssMb: number;
    addedHeapMb: number;
    peakAddedRssMb: number;
    perReaderMb: number;
  };
  wallSeconds: number;
}

const WORKER = fileURLToPath(new URL("../stalled-readers-worker.ts", import.meta.url));

export async function runIsolation(dynamoEndpoint: string, settings: IsolationSettings): Promise<IsolationResult> {
  const started = Date.now();
  installSimProbe();
  const sim = await startSimulator({ seed: settings.seed });
  applyLatencyProfile(sim);
  const stack = await startRelayStack({ dynamoEndpoint, upstreamUrl: sim.url, tablePrefix: "bench-iso" });
  const receiver = await startBenchReceiver(stack.webhookSecret);
  const noisy = await createTenant(stack.apiDeps.tenants, { name: "noisy" });
  const hanging: Socket[] = [];
  const hole = createServer((socket) => void hanging.push(socket));
  await new Promise<void>((resolve) => hole.listen(0, "127.0.0.1", resolve));
  const holeUrl = `http://127.0.0.1:${(hole.address() as { port: number }).port}/hook`;
  const schedule = schedulePoller(stack);
  const random = seeded(settings.seed);
  const runMs = () => Math.round(settings.runMs[0] + random() * (settings.runMs[1] - settings.runMs[0]));

  const submit = async (url: string, key: string, ms: number) => {
    const res = await relayCall({ url: stack.url, apiKey: key }, "POST", "/v1/responses", {
      background: true,
      model: "gpt-5-pro",
      input: `isolation ${random()}`,
      metadata: { sim_queued_ms: "300", sim_run_ms: String(ms) },
      webhook: { url },
    });
    if (res.status !== 202) throw new Error(`submit failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string; relay: { upstream_id: string } };
  };

  /** B's jobs spread over the window; their lags once every webhook has arrived. */
  const phase = async (): Promise<Lags> => {
    const jobs: { id: string; upstreamId: string }[] = [];
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: settings.jobs }, async (_, i) => {
        await sleep(Math.max(0, t0 + (i * settings.spreadMs) / settings.jobs - Date.now()));
        const job = await submit(receiver.url, stack.apiKey, runMs());
        jobs.push({ id: job.id, upstreamId: job.relay.upstream_id });
      }),
    );
    const ids = new Set(jobs.map((j) => j.id));
    await receiver.waitFor(
      () => [...receiver.firstByJob().keys()].filter((id) => ids.has(id)).length === ids.size,
      settings.runMs[1] + 120_000,
    );
    const first = receiver.firstByJob();
    const stored = await Promise.all(jobs.map((j) => stack.apiDeps.jobs.get(j.id)));
    return {
      statusLagMs: rounded(summarize(jobs.map((j, i) => stored[i]!.statusChangedAt - finishedAtMs(j.upstreamId))), 0),
      webhookLagMs: rounded(summarize(jobs.map((j) => first.get(j.id)!.atWallMs - finishedAtMs(j.upstreamId))), 0),
    };
  };

  try {
    const baseline = await phase();
    // A's jobs first, all at once, ending within a second or two: their webhooks pile into the hole.
    await Promise.all(Array.from({ length: settings.blackHoled }, () => submit(holeUrl, noisy.apiKey, 1_000)));
    const deadline = Date.now() + 60_000;
    while (hanging.length < 4 && Date.now() < deadline) await sleep(100);
    if (hanging.length === 0) throw new Error("tenant A's webhooks never reached the black hole");
    const blackHole = await phase();
    const pending = await Promise.all(
      [...(await stack.apiDeps.jobs.list(noisy.tenant.id, { limit: 100 })).jobs].map((job) => job.delivery?.state),
    );
    const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    return {
      baseline,
      blackHole: {
        ...blackHole,
        blackHoled: settings.blackHoled,
        hangingSends: hanging.filter((s) => !s.destroyed).length,
        waitingInLane: pending.filter((state) => state === "pending" || state === "sending").length,
      },
      ratio: {
        statusP50: ratio(blackHole.statusLagMs.p50, baseline.statusLagMs.p50),
        webhookP50: ratio(blackHole.webhookLagMs.p50, baseline.webhookLagMs.p50),
        statusP99: ratio(blackHole.statusLagMs.p99, baseline.statusLagMs.p99),
        webhookP99: ratio(blackHole.webhookLagMs.p99, baseline.webhookLagMs.p99),
      },
      stalledReaders: await stalledReaders(dynamoEndpoint, settings),
      wallSeconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    await schedule.stop().catch(() => undefined);
    for (const socket of hanging) socket.destroy();
    await new Promise<void>((resolve) => hole.close(() => resolve()));
    await stack.close();
    await receiver.close();
    await sim.close();
  }
}

function stalledReaders(
  dynamoEndpoint: string,
  settings: IsolationSettings,
): Promise<IsolationResult["stalledReaders"]> {
  return runWorkerProcess(WORKER, "stalled-readers", {
    BENCH_DYNAMO: dynamoEndpoint,
    BENCH_READERS: String(settings.stalledReaders),
    BENCH_OUTPUT_BYTES: String(settings.outputBytes),
  });
}
