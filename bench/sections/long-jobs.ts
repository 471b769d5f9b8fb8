/**
 * Long jobs under injected time: a ManualClock shared by the simulator, the relay and the receiver
 * moves in small steps; the poller ticks every 2 s of that time, one invocation per minute as
 * EventBridge runs it. Measures upstream calls, DynamoDB units and lag per job by job duration.
 */
import { Webhook } from "standardwebhooks";
import { ManualClock } from "#shared/clock.ts";
import { promptDeliveriesOf } from "#shared/runtime.ts";
import { newWebhookSecret } from "#shared/ids.ts";
import type { Poller } from "#shared/poller/poller.ts";
import { startSimulator } from "#local/simulator/index.ts";
import { naiveCallsFor, NAIVE_POLL_MS } from "#bench/lib/naive-client.ts";
import { startBenchReceiver } from "#bench/lib/receiver.ts";
import { relayCall, startRelayStack, type RelayStack } from "#bench/lib/stack.ts";
import { round, rounded, seeded, sleep, summarize, type Summary } from "#bench/lib/stats.ts";

export interface LongJobSettings {
  durationSeconds: number;
  jobs: number;
  openaiWebhooks: boolean;
  /** Clock step (ms of injected time); lag is resolved to this. */
  stepMs: number;
  /** Submissions spread over this much injected time. */
  spreadMs: number;
  seed: number;
}

export interface Units {
  read: number;
  write: number;
}

export interface LongJobResult {
  durationSeconds: number;
  openaiWebhooks: boolean;
  jobs: number;
  relay: {
    upstreamCallsPerJob: number;
    lagMs: Summary;
    /** Job-attributable DynamoDB units per job: submit + the poller's work on it (+ webhook ingestion). */
    unitsPerJob: Units & { submit: Units; poller: Units; ingestion: Units };
    webhooksPerJob: number;
  };
  naive: { upstreamCallsPerJob: number; computed: true; lagMs: { p50: number; p99: number; computed: true } };
  /** The poller's fixed cost during this run (leases + due-index queries), per minute of injected time. */
  overheadPerMinute: Units;
  simulatedMinutes: number;
  wallSeconds: number;
}

const TICK_MS = 2_000;
/** Ticks at 0, 2, …, 54 s of each minute: `Poller.run` with a 56 s budget stops after the tick at 54 s. */
const LAST_TICK_IN_MINUTE_MS = 54_000;

/**
 * The poller as EventBridge runs it, on injected time: a new invocation (new Poller, fresh leases
 * and schedule) at every minute, ticking at 0, 2, …, 54 s of it and then releasing its shards.
 * Its upstream streams stay open until the next invocation's first tick has taken them over, as
 * `Poller.run` keeps them for its handover. `stepMs` must divide 2000.
 */
class MinuteInvocations {
  #poller: Poller | null = null;
  #previous: Poller | null = null;
  #start: number;
  constructor(
    private readonly stack: RelayStack,
    t0: number,
  ) {
    this.#start = t0;
  }

  async at(now: number): Promise<void> {
    if (this.#poller === null || now - this.#start >= 60_000) {
      await this.#poller?.releaseAll();
      if (this.#poller !== null) this.#start += 60_000 * Math.floor((now - this.#start) / 60_000);
      this.#previous = this.#poller;
      this.#poller = this.stack.newPoller();
    }
    const offset = now - this.#start;
    if (offset % TICK_MS === 0 && offset <= LAST_TICK_IN_MINUTE_MS) {
      await this.#poller.tick();
      if (this.#previous) {
        await this.#previous.stopWatches();
        this.#previous = null;
      }
      if (offset === LAST_TICK_IN_MINUTE_MS) await this.#poller.releaseAll();
    }
  }

  /** The webhook sends the invocations have in flight are done. */
  async settled(): Promise<void> {
    await this.#poller?.settled();
    await this.#previous?.settled();
  }

  /** Whether an invocation still holds the job's upstream stream (its end will arrive on it). */
  watching(jobId: string): boolean {
    return Boolean(this.#poller?.isWatching(jobId) || this.#previous?.isWatching(jobId));
  }

  async stop(): Promise<void> {
    await this.#poller?.releaseAll();
    await this.#previous?.stopWatches();
    await this.#poller?.stopWatches();
  }
}

/** The poller's fixed cost with no jobs at all: lease writes and due-index queries per minute. */
export async function runIdleOverhead(
  dynamoEndpoint: string,
  minutes: number,
  stepMs: number,
): Promise<{ perMinute: Units; minutes: number; wallSeconds: number }> {
  const started = Date.now();
  // Injected time starts at the real now: item TTLs (retention days from the clock) must not lie in the past.
  const clock = new ManualClock(Date.now());
  const t0 = clock.now();
  const stack = await startRelayStack({
    dynamoEndpoint,
    upstreamUrl: "http://127.0.0.1:9/v1",
    clock,
    tablePrefix: "bench-idle",
  });
  const invocations = new MinuteInvocations(stack, t0);
  try {
    for (let now = t0; now < t0 + minutes * 60_000; now += stepMs) {
      clock.set(now);
      await invocations.at(now);
    }
    await invocations.stop();
    return {
      perMinute: units(stack.meters.overhead, minutes),
      minutes,
      wallSeconds: round((Date.now() - started) / 1000, 1),
    };
  } finally {
    await stack.close();
  }
}

const units = (m: { readUnits: number; writeUnits: number }, per = 1): Units => ({
  read: round(m.readUnits / per, 2),
  write: round(m.writeUnits / per, 2),
});

/** Posts one verified OpenAI webhook event to the relay, as OpenAI signs it. */
async function heardBefore(relayUrl: string, secret: string): Promise<void> {
  const at = new Date();
  const id = `wh_bench_${at.getTime()}`;
  const body = JSON.stringify({
    id: `evt_bench_${at.getTime()}`,
    object: "event",
    created_at: Math.floor(at.getTime() / 1000),
    type: "response.completed",
    data: { id: "resp_not_the_relays" },
  });
  const res = await fetch(`${relayUrl}/v1/webhooks/openai`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign(id, at, body),
    },
    body,
  });
  if (res.status !== 200) throw new Error(`the warm-up OpenAI webhook was refused: ${res.status}`);
}

export async function runLongJobs(dynamoEndpoint: string, s: LongJobSettings): Promise<LongJobResult> {
  const started = Date.now();
  // Injected time starts at the real now: item TTLs (retention days from the clock) must not lie in the past.
  const clock = new ManualClock(Date.now());
  const t0 = clock.now();
  // The strict readings of the upstream's streams: streamable only if created streaming, and
  // resumable for 5 minutes from creation (not from the end), so long jobs go back to polling.
  const sim = await startSimulator({
    clock,
    seed: s.seed,
    behaviour: { streamRequiresStreamCreate: true, resumeWindowFrom: "created" },
  });
  const openaiSecret = newWebhookSecret();
  const stack = await startRelayStack({
    dynamoEndpoint,
    upstreamUrl: sim.url,
    clock,
    openaiWebhookSecret: s.openaiWebhooks ? openaiSecret : undefined,
    tablePrefix: "bench-long",
  });
  if (s.openaiWebhooks) {
    sim.setWebhook({ url: `${stack.url}/v1/webhooks/openai`, secret: openaiSecret });
    // A deployment with OpenAI's webhooks on hears them all the time: one verified event (for a
    // response that is not the relay's) puts this fresh table in that steady state before the
    // measured jobs start, instead of making them wait for the first of their own ends.
    await heardBefore(stack.url, openaiSecret);
  }
  const receiver = await startBenchReceiver(stack.webhookSecret, clock);

  const random = seeded(s.seed);
  const durationMs = s.durationSeconds * 1000;
  const queuedMs = Math.min(5_000, Math.round(durationMs * 0.2));
  const specs = Array.from({ length: s.jobs }, (_, i) => {
    // "N-minute jobs" run up to N minutes: 80–100 % of it.
    const upstreamMs = Math.round(durationMs * (0.8 + 0.2 * random()));
    return {
      at: t0 + Math.round(random() * s.spreadMs),
      queuedMs,
      runMs: upstreamMs - queuedMs,
      input: `long ${s.durationSeconds}s #${i}`,
    };
  }).sort((a, b) => a.at - b.at);
  const submitted: { id: string; endAt: number }[] = [];

  const invocations = new MinuteInvocations(stack, t0);
  const pending = [...specs];
  const deliveredIds = () => new Set(receiver.arrivals.map((a) => a.jobId));
  // Nothing else reaches the API while a submit runs (OpenAI's events are awaited before it), so its meter delta is the submit's.
  const submitUnits = { read: 0, write: 0 };
  let simWebhooksExpected = 0;
  try {
    for (let now = t0; ; now += s.stepMs) {
      clock.set(now);
      if (s.openaiWebhooks) {
        // OpenAI's event for every response that has ended by now reaches the relay before time moves on.
        const ended = submitted.filter((j) => j.endAt <= now).length;
        if (ended > simWebhooksExpected) {
          simWebhooksExpected = ended;
          for (let waited = 0; sim.stats().webhooks.delivered < simWebhooksExpected; waited += 10) {
            if (waited > 5_000) throw new Error("the simulator's webhooks did not reach the relay");
            await sleep(10);
          }
          // And the caller's webhook each of them set off, which the relay sends at once (real
          // milliseconds) while this loop would otherwise move injected time on by 250 ms a step.
          await promptDeliveriesOf(stack.apiDeps)?.idle();
        }
      }
      while (pending.length && pending[0]!.at <= now) {
        const spec = pending.shift()!;
        const before = { read: stack.meters.api.readUnits, write: stack.meters.api.writeUnits };
        const res = await relayCall(stack, "POST", "/v1/responses", {
          background: true,
          model: "gpt-5-pro",
          input: spec.input,
          metadata: { sim_queued_ms: String(spec.queuedMs), sim_run_ms: String(spec.runMs) },
          webhook: { url: receiver.url },
        });
        if (res.status !== 202) throw new Error(`submit failed: ${res.status} ${JSON.stringify(res.body)}`);
        submitUnits.read += stack.meters.api.readUnits - before.read;
        submitUnits.write += stack.meters.api.writeUnits - before.write;
        submitted.push({ id: res.body.id, endAt: now + spec.queuedMs + spec.runMs });
      }
      await invocations.at(now);
      // An end a held stream carries reaches the relay (and its webhook the receiver) in real
      // milliseconds: let it, before injected time moves on by a step.
      const owed = () =>
        submitted.some((j) => j.endAt <= now && !deliveredIds().has(j.id) && invocations.watching(j.id));
      for (let waited = 0; owed(); waited += 5) {
        if (waited > 5_000) throw new Error("a watched job's end did not reach the receiver");
        await sleep(5);
      }
      await invocations.settled();
      await promptDeliveriesOf(stack.pollerDeps)?.idle();
      if (pending.length === 0 && submitted.length === s.jobs && deliveredIds().size === s.jobs) break;
      if (now - t0 > durationMs * 1.5 + s.spreadMs + 10 * 60_000) {
        const delivered = deliveredIds();
        const stuck = await Promise.all(
          submitted.filter((j) => !delivered.has(j.id)).map((j) => stack.apiDeps.jobs.get(j.id)),
        );
        const describe = stuck.map(
          (job) =>
            job &&
            `${job.id} ${job.status} create=${job.createState} delivery=${JSON.stringify(job.delivery)} error=${job.lastUpstreamError ?? ""}`,
        );
        throw new Error(
          `long jobs (${s.durationSeconds}s): ${stuck.length} of ${s.jobs} not delivered after ${(now - t0) / 1000} s injected:\n${describe.join("\n")}\nreceiver rejected ${receiver.rejected}`,
        );
      }
    }
    await invocations.stop();
    const simulatedMinutes = (clock.now() - t0) / 60_000;
    const first = receiver.firstByJob();
    const lag = submitted.map((j) => first.get(j.id)!.atClockMs - j.endAt);
    const ops = sim.stats().ops;
    const submit = units({ readUnits: submitUnits.read, writeUnits: submitUnits.write }, s.jobs);
    const ingestion = units(
      {
        readUnits: stack.meters.api.readUnits - submitUnits.read,
        writeUnits: stack.meters.api.writeUnits - submitUnits.write,
      },
      s.jobs,
    );
    const pollerUnits = units(stack.meters.jobs, s.jobs);
    const naiveCalls = specs.reduce((sum, spec) => sum + naiveCallsFor(spec.queuedMs + spec.runMs), 0) / s.jobs;
    return {
      durationSeconds: s.durationSeconds,
      openaiWebhooks: s.openaiWebhooks,
      jobs: s.jobs,
      relay: {
        upstreamCallsPerJob: round((ops.create + ops.retrieve + ops.stream + ops.cancel) / s.jobs, 1),
        lagMs: rounded(summarize(lag), 0),
        unitsPerJob: {
          read: round(submit.read + pollerUnits.read + ingestion.read, 2),
          write: round(submit.write + pollerUnits.write + ingestion.write, 2),
          submit,
          poller: pollerUnits,
          ingestion,
        },
        webhooksPerJob: receiver.arrivals.length / s.jobs,
      },
      naive: {
        upstreamCallsPerJob: round(naiveCalls, 1),
        computed: true,
        lagMs: { p50: NAIVE_POLL_MS / 2, p99: NAIVE_POLL_MS * 0.99, computed: true },
      },
      overheadPerMinute: units(stack.meters.overhead, simulatedMinutes),
      simulatedMinutes: round(simulatedMinutes, 1),
      wallSeconds: round((Date.now() - started) / 1000, 1),
    };
  } finally {
    await stack.close();
    await receiver.close();
    await sim.close();
  }
}
