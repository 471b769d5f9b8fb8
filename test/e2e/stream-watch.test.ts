/**
 * Watching the stream while the upstream allows it (issue 14, part 3). The relay creates every
 * response streaming; the poller holds that stream instead of polling, hears the end the moment
 * the upstream sends it, hands the stream over to the next invocation at the minute boundary
 * (resuming after the cursor left on the shard lease), and polls once the upstream refuses a
 * resume. Injected time; the simulator streams on the same clock over real HTTP, so what the relay
 * does between two clock steps happens in real milliseconds and is awaited with `realWait`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startReceiver, type Receiver } from "#test/support/receiver.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";

const QUEUED_MS = 1_000;
const RUN_MS = 60_000;

let relay: RelayHarness;
let receiver: Receiver;
beforeAll(async () => {
  relay = await startRelay({
    env: { RELAY_WATCH_STREAMS: "true" },
    // The strict readings: only a streaming create can be streamed, for 5 minutes from creation.
    behaviour: {
      queuedMs: QUEUED_MS,
      runMs: RUN_MS,
      streamRequiresStreamCreate: true,
      resumeWindowFrom: "created",
    },
  });
  receiver = await startReceiver(relay.tenant.webhookSecrets[0]!);
});
afterAll(async () => {
  await relay.close();
  await receiver.close();
});

const ops = () => relay.sim.stats().ops;
const submit = async (metadata: Record<string, string> = {}) => {
  const res = await relay.call("POST", "/v1/responses", {
    background: true,
    model: "gpt-5-pro",
    input: "a watched job",
    metadata,
    webhook: { url: receiver.url },
  });
  expect(res.status).toBe(202);
  return { id: res.body.id as string, upstreamId: res.body.relay.upstream_id as string };
};
const job = async (id: string) => (await relay.deps.jobs.get(id))!;
const status = async (id: string) => (await relay.call("GET", `/v1/responses/${id}`)).body;
const hooksFor = (id: string) => receiver.accepted().filter((r) => JSON.parse(r.body).data.id === id);
const streamsOf = (upstreamId: string) => relay.sim.stats().streamsOpened.filter((s) => s.id === upstreamId);
async function realWait(condition: () => Promise<boolean> | boolean, what: string) {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${what} did not happen within 5 s`);
}
/** Moves the clock in steps, ticking `poller` after each, until `until` (absolute clock ms). */
async function tickUntil(poller: RelayHarness["poller"], until: number, stepMs = 5_000) {
  while (relay.clock.now() + stepMs <= until) {
    relay.clock.advance(stepMs);
    await poller.tick();
  }
}

describe("the stream watch", () => {
  it("holds a running job's stream instead of polling it, and records the end as it happens", async () => {
    const before = ops();
    const { id } = await submit();
    const endsAt = relay.clock.now() + QUEUED_MS + RUN_MS;
    await relay.poller.tick();
    expect(relay.poller.isWatching(id)).toBe(true);

    relay.clock.advance(2_000);
    await realWait(async () => (await job(id)).status === "in_progress", "in_progress off the stream");
    const running = await status(id);
    expect(running.relay.status_label).toBe("running in background mode, watched live on its upstream stream…");

    // The whole run with the poller ticking: it never polls a watched job.
    await tickUntil(relay.poller, endsAt - 1_000);
    expect((await job(id)).status).toBe("in_progress");
    // The end, with no tick after it: the stream's response.completed is recorded, and the
    // caller's webhook sent, at the very clock time the upstream finished.
    relay.clock.set(endsAt);
    await realWait(() => hooksFor(id).length === 1, "the caller's webhook");
    const ended = await job(id);
    expect(ended.status).toBe("completed");
    expect(ended.statusChangedAt).toBe(endsAt);
    expect((await status(id)).output_text ?? (await status(id)).output).toBeTruthy();
    const after = ops();
    expect(after.retrieve - before.retrieve).toBe(0);
    // The create's own stream was the watch (same process): at most one stream request besides.
    expect(after.create - before.create).toBe(1);
    expect(after.stream - before.stream).toBeLessThanOrEqual(1);
    expect(relay.poller.isWatching(id)).toBe(false);
    await relay.poller.releaseAll();
  });

  it("hands the stream to the next invocation at the minute boundary: resumed after the cursor, no gap, one end", async () => {
    const { id, upstreamId } = await submit();
    const endsAt = relay.clock.now() + QUEUED_MS + RUN_MS;
    const first = relay.newPoller();
    await first.tick();
    expect(first.isWatching(id)).toBe(true);
    await tickUntil(first, endsAt - 20_000);
    await realWait(async () => (await job(id)).status === "in_progress", "in_progress off the stream");

    // The invocation ends: shards back, with the cursor on the lease; its stream stays open.
    await first.releaseAll();
    const second = relay.newPoller();
    await second.tick();
    expect(second.isWatching(id)).toBe(true);
    const opened = streamsOf(upstreamId).length;
    await realWait(() => streamsOf(upstreamId).length > opened, "the resume");
    expect(streamsOf(upstreamId).at(-1)!.startingAfter).toBeGreaterThan(0);

    // The end arrives while both hold the stream: one terminal write, one webhook.
    relay.clock.set(endsAt);
    await realWait(() => hooksFor(id).length === 1, "the caller's webhook");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hooksFor(id)).toHaveLength(1);
    await first.stopWatches();
    await second.releaseAll();
    await second.stopWatches();
  });

  it("falls back to polling when the upstream refuses the resume, and the label says so", async () => {
    relay.sim.configure({ resumeWindowMs: 20_000 });
    try {
      const { id, upstreamId } = await submit();
      const endsAt = relay.clock.now() + QUEUED_MS + RUN_MS;
      const first = relay.newPoller();
      await first.tick();
      await tickUntil(first, relay.clock.now() + 30_000);
      await first.releaseAll();
      // 30 s after the create: past this upstream's 20 s window, the resume is refused.
      const second = relay.newPoller();
      const retrievesBefore = ops().retrieve;
      await second.tick();
      await first.stopWatches();
      await realWait(() => !second.isWatching(id), "the refused resume");
      relay.clock.advance(1_000);
      await second.tick();
      expect(ops().retrieve).toBeGreaterThan(retrievesBefore);
      expect((await status(id)).relay.status_label).toBe("running in background mode…");
      expect((await job(id)).watch).toBe("poll");

      await tickUntil(second, endsAt + 25_000);
      expect((await job(id)).status).toBe("completed");
      await realWait(() => hooksFor(id).length === 1, "the caller's webhook");
      // A later invocation does not try the stream again.
      const streams = streamsOf(upstreamId).length;
      await second.releaseAll();
      const third = relay.newPoller();
      await third.tick();
      expect(streamsOf(upstreamId)).toHaveLength(streams);
      await third.releaseAll();
    } finally {
      relay.sim.configure({ resumeWindowMs: 300_000 });
    }
  });

  it("resumes a stream the upstream keeps cutting, and still hears the end without polling", async () => {
    const before = ops();
    const { id, upstreamId } = await submit({ sim_stream_cut_after: "3", sim_run_ms: "10000" });
    const endsAt = relay.clock.now() + QUEUED_MS + 10_000;
    const poller = relay.newPoller();
    await poller.tick();
    await tickUntil(poller, endsAt - 1_000, 1_000);
    relay.clock.set(endsAt);
    await realWait(() => hooksFor(id).length === 1, "the caller's webhook");
    expect((await job(id)).statusChangedAt).toBe(endsAt);
    expect(ops().retrieve - before.retrieve).toBe(0);
    const resumes = streamsOf(upstreamId);
    expect(resumes.length).toBeGreaterThan(1);
    // Every resume continued after what the one before had delivered.
    const cursors = resumes.map((s) => s.startingAfter ?? -1);
    expect([...cursors].sort((a, b) => a - b)).toEqual(cursors);
    await poller.releaseAll();
  });

  it("after a poller dies holding streams, the next one picks its jobs up and replays from the start", async () => {
    const { id, upstreamId } = await submit({ sim_run_ms: "120000" });
    const endsAt = relay.clock.now() + QUEUED_MS + 120_000;
    const doomed = relay.newPoller();
    await doomed.tick();
    expect(doomed.isWatching(id)).toBe(true);
    const opened = streamsOf(upstreamId).length;
    // Dies: its streams drop, its leases (and no cursors) stay until they run out.
    await doomed.stopWatches();
    relay.clock.advance(61_000);
    const next = relay.newPoller();
    await next.tick();
    expect(next.isWatching(id)).toBe(true);
    await realWait(() => streamsOf(upstreamId).length > opened, "the new watch's stream");
    expect(streamsOf(upstreamId).at(-1)!.startingAfter).toBeNull();
    await tickUntil(next, endsAt - 1_000);
    relay.clock.set(endsAt);
    await realWait(() => hooksFor(id).length === 1, "the caller's webhook");
    expect((await job(id)).statusChangedAt).toBe(endsAt);
    await next.releaseAll();
    await next.stopWatches();
  });
});

describe("the stream watch when the job ends by another path", () => {
  let held: RelayHarness["poller"] | undefined;
  let logs: Record<string, unknown>[] = [];
  /**
   * A job running on a watched stream, its upstream deaf to cancels from here: each fails, so the
   * upstream keeps the response running and its stream open, as one that does not close streams
   * on a cancel would. Only the relay knows the job ended; the poller must let go by itself.
   */
  async function watchedJob(metadata: Record<string, string> = {}) {
    const { id } = await submit(metadata);
    logs = [];
    const watching = relay.newPoller({ log: (event) => void logs.push(event) });
    held = watching;
    await watching.tick();
    expect(watching.isWatching(id)).toBe(true);
    relay.clock.advance(2_000);
    await realWait(async () => (await job(id)).status === "in_progress", "in_progress off the stream");
    relay.sim.injectFault({ op: "cancel", status: 503, times: Infinity });
    return { id, poller: watching };
  }
  /** No stream held for it any more, and not turned to polling (which would be logged). */
  function expectLetGo(watching: RelayHarness["poller"], id: string) {
    expect(watching.isWatching(id)).toBe(false);
    expect(watching.watchCount).toBe(0);
    expect(logs.filter((l) => l.msg === "stream watch stopped; polling")).toEqual([]);
  }
  afterEach(async () => {
    relay.sim.clearFaults();
    await held?.releaseAll();
    await held?.stopWatches();
    held = undefined;
  });

  it("lets go of the stream of a job cancelled through the API, without turning it to polling", async () => {
    const { id, poller } = await watchedJob();
    const cancelled = await relay.call("POST", `/v1/responses/${id}/cancel`);
    expect(cancelled.body.status).toBe("cancelled");
    // The owed upstream cancel brings the job back into the due index: the poller reads it.
    await tickUntil(poller, relay.clock.now() + 10_000, 1_000);
    expect((await job(id)).upstreamCancelPending).toBe(true);
    expectLetGo(poller, id);
  });

  it("lets go of the stream of a job it cancels itself at its deadline", async () => {
    const { id, poller } = await watchedJob({ sim_run_ms: String(10 * 3600_000) });
    relay.clock.set((await job(id)).deadlineAt);
    await poller.tick();
    const ended = await job(id);
    expect(ended.status).toBe("cancelled");
    expect(ended.endReason?.code).toBe("deadline_exceeded");
    expectLetGo(poller, id);
  });
});

describe("the stream watch while OpenAI's webhooks arrive", () => {
  let pushed: RelayHarness;
  beforeAll(async () => {
    pushed = await startRelay({
      env: { RELAY_WATCH_STREAMS: "true", OPENAI_WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString("base64")}` },
      behaviour: { queuedMs: QUEUED_MS, runMs: 300_000, streamRequiresStreamCreate: true, resumeWindowFrom: "created" },
    });
  });
  afterAll(() => pushed.close());

  it("watches a job's first minute on its stream, then hands it to push without polling it", async () => {
    // A verified OpenAI webhook was heard just now: push is live.
    await pushed.deps.inbox.heard(pushed.clock.now());
    const res = await pushed.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "long" });
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    const first = pushed.newPoller();
    await first.tick();
    expect(first.isWatching(id)).toBe(true);
    for (let i = 0; i < 10; i++) {
      pushed.clock.advance(5_000);
      await first.tick();
    }
    await first.releaseAll();
    const retrieves = pushed.sim.stats().ops.retrieve;
    const streams = pushed.sim.stats().ops.stream;
    pushed.clock.advance(15_000);
    const second = pushed.newPoller();
    await second.tick();
    await first.stopWatches();
    // Past its first minute: not resumed; backstopped by push from here, with no look at it now.
    expect(second.isWatching(id)).toBe(false);
    const job = (await pushed.deps.jobs.get(id))!;
    expect(job.watch).toBe("push");
    expect(pushed.sim.stats().ops.retrieve).toBe(retrieves);
    expect(pushed.sim.stats().ops.stream).toBe(streams);
    const status = (await pushed.call("GET", `/v1/responses/${id}`)).body;
    expect(status.relay.status_label).toBe("running in background mode, watched by OpenAI's webhooks…");
    await second.releaseAll();
  });
});
