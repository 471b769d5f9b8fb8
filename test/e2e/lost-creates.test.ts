/**
 * Creates whose answer was lost: the request may have reached the upstream, so the relay never
 * sends it again; it waits ("confirming") and finds the response when OpenAI's webhook names it,
 * by its `relay_job_id` tag (docs/decisions/0003-ambiguous-creates.md). The upstream is the
 * simulator, which sends OpenAI's signed webhooks to the relay; the lost answers are real (a
 * connection the simulator drops after handling the create) or a crash between two writes.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Job } from "#shared/domain/job.ts";
import { newWebhookSecret } from "#shared/ids.ts";
import { type RelayHarness, startRelay } from "#test/support/relay.ts";

let relay: RelayHarness | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

/** The relay with OpenAI's webhooks pointed at it (the simulator signs them with `secret`). */
async function withOpenAIWebhooks(behaviour = { queuedMs: 2_000, runMs: 5_000 }) {
  const secret = newWebhookSecret();
  relay = await startRelay({ env: { OPENAI_WEBHOOK_SECRET: secret }, behaviour });
  relay.sim.setWebhook({ url: `${relay.url}/v1/webhooks/openai`, secret });
  return relay;
}

/** Drops the answer of the next create after the simulator has made the response. */
const loseNextCreateAnswer = (h: RelayHarness) =>
  h.sim.injectFault({ op: "create", dropConnection: true, afterHandling: true, times: 1 });

/** Stops "the process" right before it records the upstream id (the create itself went out). */
function crashBeforeRecordingTheId(h: RelayHarness) {
  const store = h.deps.jobs;
  const original = store.update.bind(store);
  let crashed = false;
  store.update = async (job: Job, changes: Partial<Job>, dueAt?: number | null) => {
    if (!crashed && changes.createState === "done") {
      crashed = true;
      throw new Error("stopped before a write");
    }
    return original(job, changes, dueAt);
  };
}

const submit = (h: RelayHarness, extra: Record<string, unknown> = {}) =>
  h.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "lost answer", ...extra });

/** Moves time until the job ends, with pollers ticking and the simulator's webhooks flowing. */
async function untilEnded(h: RelayHarness, id: string) {
  let job: any;
  await h.runUntil(
    async () => {
      // Give the webhook request a moment on the wire after each step.
      await new Promise((r) => setTimeout(r, 20));
      job = (await h.call("GET", `/v1/responses/${id}`)).body;
      return ["completed", "failed", "cancelled", "incomplete"].includes(job.status);
    },
    { stepMs: 2000, maxSteps: 120 },
  );
  return job;
}

describe("a create whose answer was lost", () => {
  it("waits, confirming, then re-attaches the response OpenAI's webhook names, and finishes it: one create", async () => {
    const h = await withOpenAIWebhooks();
    loseNextCreateAnswer(h);
    const res = await submit(h);
    expect(res.status).toBe(202);
    expect(res.body.relay.status_label).toBe("confirming the upstream response…");
    expect(res.body.status).toBe("queued");
    const done = await untilEnded(h, res.body.id);
    expect(done.status).toBe("completed");
    expect(done.relay.reason).toBeNull();
    const [created] = h.sim.stats().createdIds;
    expect(h.sim.stats().createdIds).toHaveLength(1);
    expect(done.relay.upstream_id).toBe(created);
    expect(done.output[0].content[0].text).toBe((h.sim.getResponse(created!) as any).output[0].content[0].text);
  });

  it("after a crash between the create and recording its id, a fresh poller confirms and the webhook re-attaches", async () => {
    // Runs well past the grace, so it is still running when the poller starts confirming.
    const h = await withOpenAIWebhooks({ queuedMs: 2_000, runMs: 120_000 });
    crashBeforeRecordingTheId(h);
    const res = await submit(h);
    expect(res.status).toBe(500);
    const [listed] = (await h.call("GET", "/v1/responses")).body.data;
    // The poller finds the create unrecorded after the grace and starts confirming.
    h.clock.advance(61_000);
    await h.newPoller().tick();
    const confirming = (await h.call("GET", `/v1/responses/${listed.id}`)).body;
    expect(confirming.relay.status_label).toBe("confirming the upstream response…");
    const done = await untilEnded(h, listed.id);
    expect(done.status).toBe("completed");
    expect(h.sim.stats().createdIds).toEqual([done.relay.upstream_id]);
  });

  it("a job cancelled while confirming records the response that turns up, and is not revived", async () => {
    const h = await withOpenAIWebhooks();
    loseNextCreateAnswer(h);
    const res = await submit(h);
    const cancelled = await h.call("POST", `/v1/responses/${res.body.id}/cancel`);
    expect(cancelled.body.status).toBe("cancelled");
    const created = h.sim.stats().createdIds[0]!;
    await h.runUntil(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return (await h.deps.jobs.get(res.body.id))?.upstreamId === created;
    });
    const after = (await h.call("GET", `/v1/responses/${res.body.id}`)).body;
    expect(after.status).toBe("cancelled");
    expect(after.relay.upstream_id).toBe(created);
    expect(h.sim.stats().createdIds).toHaveLength(1);
  });

  it("ends failed only once nothing can turn up any more: past the deadline and the slack, never a second create", async () => {
    const h = await withOpenAIWebhooks();
    // The create never reaches the upstream: the process stops right after marking it sent.
    const store = h.deps.jobs;
    const original = store.update.bind(store);
    let crashed = false;
    store.update = async (job: Job, changes: Partial<Job>, dueAt?: number | null) => {
      const written = await original(job, changes, dueAt);
      if (!crashed && changes.createState === "sent") {
        crashed = true;
        throw new Error("stopped after a write");
      }
      return written;
    };
    const res = await submit(h);
    expect(res.status).toBe(500);
    const [listed] = (await h.call("GET", "/v1/responses")).body.data;
    const job = (await h.deps.jobs.get(listed.id))!;
    h.clock.advance(61_000);
    await h.poller.tick();
    expect((await h.deps.jobs.get(listed.id))!.createState).toBe("unconfirmed");
    // Just before the window closes it is still waiting.
    h.clock.set(job.deadlineAt + h.deps.settings.confirmSlackMs - 1000);
    await h.poller.tick();
    expect((await h.call("GET", `/v1/responses/${listed.id}`)).body.status).toBe("queued");
    h.clock.advance(2000);
    await h.poller.tick();
    const ended = (await h.call("GET", `/v1/responses/${listed.id}`)).body;
    expect(ended.status).toBe("failed");
    expect(ended.relay.reason.code).toBe("upstream_create_interrupted");
    expect(ended.relay.reason.message).toContain("no response for it turned up");
    expect(h.sim.stats().createdIds).toHaveLength(0);
  });

  it("without OpenAI's webhooks nothing could find it: it ends at once, saying so", async () => {
    relay = await startRelay({ behaviour: { queuedMs: 2_000, runMs: 5_000 } });
    const h = relay;
    loseNextCreateAnswer(h);
    const res = await submit(h);
    expect(res.status).toBe(202);
    expect(res.body.status).toBe("failed");
    expect(res.body.relay.reason.code).toBe("upstream_create_interrupted");
    expect(res.body.relay.reason.message).toContain("webhooks are not configured");
    expect(h.sim.stats().createdIds).toHaveLength(1);
  });

  it("with every metadata slot used, the response cannot be traced: it ends at once, saying why", async () => {
    const h = await withOpenAIWebhooks();
    loseNextCreateAnswer(h);
    const metadata = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, "v"]));
    const res = await submit(h, { metadata });
    expect(res.body.status).toBe("failed");
    expect(res.body.relay.reason.message).toContain("16 metadata slots");
  });

  it("an event the relay could not follow (upstream down) is answered 502, and OpenAI's retry is followed", async () => {
    const h = await withOpenAIWebhooks();
    loseNextCreateAnswer(h);
    const res = await submit(h);
    // The lookup of the unknown response fails once; the simulator resends the same webhook-id.
    h.sim.injectFault({ op: "retrieve", status: 503, times: 1 });
    const done = await untilEnded(h, res.body.id);
    expect(done.status).toBe("completed");
    expect(h.sim.stats().createdIds).toHaveLength(1);
  });
});
