/**
 * Notification lag in real time: the same jobs, at the same moments, through the relay (webhook to
 * a receiver) and through the naive client (the SDK polling every 2 s), against one simulator.
 */
import { newWebhookSecret } from "#shared/ids.ts";
import { startSimulator } from "#local/simulator/index.ts";
import { naiveClient, type NaiveResult } from "#bench/lib/naive-client.ts";
import { startBenchReceiver } from "#bench/lib/receiver.ts";
import { applyLatencyProfile, finishedAtMs, installSimProbe } from "#bench/lib/sim-probe.ts";
import { relayCall, schedulePoller, startRelayStack } from "#bench/lib/stack.ts";
import { rounded, seeded, sleep, summarize, type Summary } from "#bench/lib/stats.ts";

export interface LagSettings {
  jobs: number;
  /** Submissions are spread evenly over this window (real ms). */
  spreadMs: number;
  queuedMs: [number, number];
  runMs: [number, number];
  seed: number;
}

export interface LagResult {
  openaiWebhooks: boolean;
  jobs: number;
  upstreamSeconds: Summary;
  relay: {
    /** Upstream end → the caller's webhook received. */
    lagMs: Summary;
    /** Upstream end → the relay's terminal write (a caller polling the relay's status could know from here). */
    recordedLagMs: Summary;
    upstreamCallsPerJob: number;
    webhooksPerJob: number;
  };
  naive: { lagMs: Summary; upstreamCallsPerJob: number };
  wallSeconds: number;
}

export async function runLag(
  dynamoEndpoint: string,
  settings: LagSettings,
  openaiWebhooks: boolean,
): Promise<LagResult> {
  installSimProbe();
  const started = Date.now();
  const sim = await startSimulator({
    seed: settings.seed,
    behaviour: { streamRequiresStreamCreate: true, resumeWindowFrom: "created" },
  });
  applyLatencyProfile(sim);
  const openaiSecret = newWebhookSecret();
  const stack = await startRelayStack({
    dynamoEndpoint,
    upstreamUrl: sim.url,
    openaiWebhookSecret: openaiWebhooks ? openaiSecret : undefined,
    tablePrefix: "bench-lag",
  });
  if (openaiWebhooks) sim.setWebhook({ url: `${stack.url}/v1/webhooks/openai`, secret: openaiSecret });
  const receiver = await startBenchReceiver(stack.webhookSecret);
  const naive = naiveClient(sim.url);
  const schedule = schedulePoller(stack);

  const random = seeded(settings.seed);
  const between = ([lo, hi]: [number, number]) => Math.round(lo + random() * (hi - lo));
  const specs = Array.from({ length: settings.jobs }, (_, i) => ({
    at: Math.round((i * settings.spreadMs) / settings.jobs),
    queuedMs: between(settings.queuedMs),
    runMs: between(settings.runMs),
    input: `lag probe ${settings.seed}-${i}`,
  }));

  const relayJobs: { id: string; upstreamId: string }[] = [];
  const naiveRuns: Promise<NaiveResult>[] = [];
  try {
    const t0 = Date.now();
    await Promise.all(
      specs.map(async (spec) => {
        await sleep(Math.max(0, t0 + spec.at - Date.now()));
        const metadata = { sim_queued_ms: String(spec.queuedMs), sim_run_ms: String(spec.runMs) };
        naiveRuns.push(naive.run({ model: "gpt-5-pro", input: spec.input, metadata }));
        const res = await relayCall(stack, "POST", "/v1/responses", {
          background: true,
          model: "gpt-5-pro",
          input: spec.input,
          metadata,
          webhook: { url: receiver.url },
        });
        if (res.status !== 202 || !res.body?.relay?.upstream_id)
          throw new Error(`submit failed: ${res.status} ${JSON.stringify(res.body)}`);
        relayJobs.push({ id: res.body.id, upstreamId: res.body.relay.upstream_id });
      }),
    );
    const longest = Math.max(...specs.map((s) => s.queuedMs + s.runMs));
    const ids = new Set(relayJobs.map((j) => j.id));
    await receiver.waitFor(
      () => [...receiver.firstByJob().keys()].filter((id) => ids.has(id)).length === ids.size,
      longest + 90_000,
    );
    const naiveResults = await Promise.all(naiveRuns);
    // Let late duplicates (there should be none) show up before counting.
    await sleep(500);

    const first = receiver.firstByJob();
    const relayLag = relayJobs.map((job) => first.get(job.id)!.atWallMs - finishedAtMs(job.upstreamId));
    const stored = await Promise.all(relayJobs.map((job) => stack.apiDeps.jobs.get(job.id)));
    const recordedLag = relayJobs.map((job, i) => stored[i]!.statusChangedAt - finishedAtMs(job.upstreamId));
    const naiveLag = naiveResults.map((r) => r.informedAtMs - finishedAtMs(r.upstreamId));
    const ops = sim.stats().ops;
    // Stream requests count as calls too (the naive client makes none).
    const allCalls = ops.create + ops.retrieve + ops.stream + ops.cancel;
    const naiveCalls = naive.calls;
    if (receiver.rejected > 0) throw new Error(`${receiver.rejected} webhook deliveries failed verification`);
    return {
      openaiWebhooks,
      jobs: settings.jobs,
      upstreamSeconds: rounded(summarize(specs.map((s) => (s.queuedMs + s.runMs) / 1000))),
      relay: {
        lagMs: rounded(summarize(relayLag), 0),
        recordedLagMs: rounded(summarize(recordedLag), 0),
        upstreamCallsPerJob: Math.round(((allCalls - naiveCalls) / settings.jobs) * 10) / 10,
        webhooksPerJob: receiver.arrivals.filter((a) => ids.has(a.jobId)).length / settings.jobs,
      },
      naive: {
        lagMs: rounded(summarize(naiveLag), 0),
        upstreamCallsPerJob: Math.round((naiveCalls / settings.jobs) * 10) / 10,
      },
      wallSeconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    // On a failure path the naive clients may still be polling: let them finish before the simulator goes.
    await Promise.allSettled(naiveRuns);
    await schedule.stop();
    await stack.close();
    await receiver.close();
    await sim.close();
  }
}
