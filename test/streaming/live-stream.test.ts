import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { outputText } from "#shared/domain/response-view.ts";
import { streamLabel } from "#shared/domain/labels.ts";
import type { StreamEvent } from "#shared/ports.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { deltaText, driveToEnd, driveUntil, openStream, range, seqs, type StreamRead } from "./support.ts";

const OPENING = [
  "response.created",
  "response.queued",
  "response.in_progress",
  "response.output_item.added",
  "response.content_part.added",
];
const CLOSING = [
  "response.output_text.done",
  "response.content_part.done",
  "response.output_item.done",
  "response.completed",
];

let relay: RelayHarness;
beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 4000, outputBytes: 1500 } });
});
afterAll(() => relay.close());
afterEach(() => {
  relay.sim.clearFaults();
  relay.sim.resetStats();
});

const submit = async (metadata: Record<string, string> = {}, extra: Record<string, unknown> = {}) => {
  const res = await relay.call("POST", "/v1/responses", {
    background: true,
    model: "gpt-5-pro",
    input: `stream test ${Math.random()}`,
    metadata,
    ...extra,
  });
  expect(res.status).toBe(202);
  return res.body as { id: string; relay: { upstream_id: string } };
};

const upstreamOf = (job: { relay: { upstream_id: string } }) => relay.sim.getResponse(job.relay.upstream_id) as any;

/** Every event exactly once, in order, ending with response.completed carrying the upstream's output. */
function expectWholeStream(read: StreamRead, job: { id: string; relay: { upstream_id: string } }) {
  const upstream = upstreamOf(job);
  expect(seqs(read.events)).toEqual(range(0, read.events.length));
  expect(read.events[0]!.type).toBe("response.created");
  const completed = read.events.at(-1)! as StreamEvent & { response: any };
  expect(completed.type).toBe("response.completed");
  expect(completed.response.output).toEqual(upstream.output);
  expect(completed.response.usage).toEqual(upstream.usage);
  expect(deltaText(read.events)).toBe(upstream.output[0].content[0].text);
  expect(read.events.filter((e) => e.type === "response.completed")).toHaveLength(1);
}

describe("GET /v1/responses/{id}?stream=true", () => {
  it("relays the upstream stream live in OpenAI's framing, as the relay's job, with status labels", async () => {
    const job = await submit({ ticket: "T-9" });
    const read = await openStream(relay, `/v1/responses/${job.id}?stream=true`);
    expect(read.status).toBe(200);
    expect(read.headers.get("content-type")).toMatch(/^text\/event-stream/);
    await driveToEnd(relay, read);

    expectWholeStream(read, job);
    const types = read.events.map((e) => e.type);
    expect(types.slice(0, 5)).toEqual(OPENING);
    expect(types.slice(-4)).toEqual(CLOSING);
    // `event:` names the type; `id:` is the sequence number (EventSource resumes with it).
    expect(read.names).toEqual(types);
    expect(read.ids).toEqual(read.events.map((e) => String(e.sequence_number)));
    // Responses inside events are the relay's job, with the caller's metadata only.
    for (const event of read.events.filter((e) => e.response)) {
      expect((event.response as any).id).toBe(job.id);
      expect((event.response as any).metadata).toEqual({ ticket: "T-9" });
    }
    // Human labels from the one mapping, as the stream goes.
    const labels = read.statuses.map((s) => s.label);
    expect(labels).toEqual(
      expect.arrayContaining([streamLabel("queued"), streamLabel("in_progress"), streamLabel("completed")]),
    );
    expect(labels).toContain("background mode (queued)…");
    expect(read.statuses.at(-1)).toEqual({ status: "completed", phase: "live", label: "completed" });
  });

  it("resumes an upstream stream cut every few events: every event exactly once", async () => {
    const job = await submit({ sim_stream_cut_after: "3" });
    const read = await openStream(relay, `/v1/responses/${job.id}?stream=true`);
    await driveToEnd(relay, read);
    expectWholeStream(read, job);
    // Each upstream connection gave at most 3 events, so the relay resumed many times.
    expect(relay.sim.stats().ops.stream).toBeGreaterThanOrEqual(Math.ceil(read.events.length / 3));
  });

  it("falls back to polling when the resume is refused (window passed), and writes the final events itself", async () => {
    const job = await submit({ sim_stream_cut_after: "5" });
    const read = await openStream(relay, `/v1/responses/${job.id}?stream=true`);
    // Live while queued: created + queued arrive, the connection stays open.
    await driveUntil(relay, () => read.events.length >= 2, { stepMs: 0, tick: false });
    // Ten minutes pass at once: the job ends, and ends more than 5 minutes ago. The open
    // connection delivers 3 more events and is cut; the resume is then refused with a 400.
    relay.clock.advance(10 * 60_000);
    await driveToEnd(relay, read);

    expectWholeStream(read, job);
    expect(read.statuses.map((s) => s.phase)).toContain("polling");
    expect(read.statuses.find((s) => s.phase === "polling")!.label).toBe("polling…");
    expect(relay.sim.stats().ops.stream).toBe(2);
    // The relay wrote the rest itself: in OpenAI's order, continuing the numbers.
    expect(read.events.map((e) => e.type).slice(-4)).toEqual(CLOSING);
    expect(read.events.filter((e) => e.type === "response.output_text.done")[0]!.text).toBe(
      upstreamOf(job).output[0].content[0].text,
    );
  });

  it("resumes after upstream failures with backoff, polls while they last, and goes live again", async () => {
    relay.sim.injectFault({ op: "stream", status: 503, times: Infinity });
    const job = await submit({ sim_run_ms: "60000", sim_stream_cut_after: "7" });
    const read = await openStream(relay, `/v1/responses/${job.id}?stream=true`);
    await driveUntil(relay, () => read.statuses.some((s) => s.phase === "polling"), { stepMs: 250 });
    // 1 s, 2 s, 4 s apart: three more tries after the first, then polling.
    expect(relay.sim.stats().ops.stream).toBe(4);
    expect(read.statuses.map((s) => s.phase)).toContain("reconnecting");
    expect(read.statuses.find((s) => s.phase === "reconnecting")!.label).toBe("reconnecting…");
    relay.sim.clearFaults();
    await driveToEnd(relay, read, { stepMs: 1000 });
    expectWholeStream(read, job);
    // Polling tried the stream again (30 s later) and relayed the upstream's own events from then
    // on: live again, many small deltas rather than one written by the relay.
    expect(relay.sim.stats().ops.stream).toBeGreaterThan(5);
    expect(read.events.filter((e) => e.type === "response.output_text.delta").length).toBeGreaterThan(10);
  });

  it("ends failed and incomplete streams with the upstream's terminal event", async () => {
    for (const outcome of ["failed", "incomplete"]) {
      const job = await submit({ sim_outcome: outcome, sim_stream_cut_after: "4" });
      const read = await openStream(relay, `/v1/responses/${job.id}?stream=true`);
      await driveToEnd(relay, read);
      expect(seqs(read.events)).toEqual(range(0, read.events.length));
      const last = read.events.at(-1)! as StreamEvent & { response: any };
      expect(last.type).toBe(`response.${outcome}`);
      expect(last.response.id).toBe(job.id);
      expect(last.response.status).toBe(outcome);
      expect(read.statuses.at(-1)!.status).toBe(outcome);
    }
  });

  it("ends a cancelled job's stream (no terminal event exists for it) and replays it the same way", async () => {
    const job = await submit({ sim_run_ms: "600000" });
    const read = await openStream(relay, `/v1/responses/${job.id}?stream=true`);
    await driveUntil(relay, () => read.events.some((e) => e.type === "response.output_text.delta"), { stepMs: 2000 });
    const cancelled = await relay.call("POST", `/v1/responses/${job.id}/cancel`);
    expect(cancelled.body.status).toBe("cancelled");
    await driveToEnd(relay, read);
    expect(seqs(read.events)).toEqual(range(0, read.events.length));
    expect(read.events.some((e) => e.type === "response.completed")).toBe(false);
    expect(read.statuses.at(-1)).toEqual({ status: "cancelled", phase: "live", label: "cancelled" });
    expect(deltaText(read.events)).toBe(outputText(cancelled.body.output));

    const replay = await openStream(relay, `/v1/responses/${job.id}?stream=true`);
    await replay.done;
    expect(replay.events).toEqual(read.events);
    expect(replay.statuses.at(-1)!.status).toBe("cancelled");
  });

  it("replays a job that already ended and closes", async () => {
    const job = await submit();
    await relay.settle(job.id);
    const first = await openStream(relay, `/v1/responses/${job.id}?stream=true`);
    await first.done;
    expectWholeStream(first, job);
    const again = await openStream(relay, `/v1/responses/${job.id}?stream=true`);
    await again.done;
    expect(again.events).toEqual(first.events);
  });

  it("answers bad cursors and unknown ids with OpenAI-shaped errors", async () => {
    const job = await submit();
    const bad = await relay.call("GET", `/v1/responses/${job.id}?stream=true&starting_after=abc`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ type: "invalid_request_error", param: "starting_after" });
    const badHeader = await relay.call("GET", `/v1/responses/${job.id}?stream=true`, undefined, {
      "last-event-id": "-3",
    });
    expect(badHeader.status).toBe(400);
    expect(badHeader.body.error.param).toBe("Last-Event-ID");
    const missing = await relay.call("GET", `/v1/responses/resp_0000unknown?stream=true`);
    expect(missing.status).toBe(404);
    const noKey = await relay.call("GET", `/v1/responses/${job.id}?stream=true`, undefined, {}, null);
    expect(noKey.status).toBe(401);
  });
});

describe("POST /v1/responses with stream: true", () => {
  it("answers 200 with the stream from response.created for the relay's job", async () => {
    const read = await openStream(relay, "/v1/responses", {
      method: "POST",
      body: { model: "gpt-5-pro", input: "stream it", stream: true, metadata: { k: "v" } },
    });
    expect(read.status).toBe(200);
    const location = read.headers.get("location")!;
    const id = location.split("/").pop()!;
    await driveToEnd(relay, read);
    const job = (await relay.call("GET", `/v1/responses/${id}`)).body;
    expectWholeStream(read, job);
    expect((read.events[0] as any).response).toMatchObject({ id, status: "queued", metadata: { k: "v" } });
    // The relay created the upstream response streaming (so it can be streamed later) and relayed
    // that very stream: no separate GET was needed.
    expect(relay.sim.stats().ops.stream).toBe(0);
    expect(upstreamOf(job).background).toBe(true);
  });

  it("survives the resume window passing while it is disconnected from the upstream", async () => {
    relay.sim.injectFault({ op: "stream", status: 503, times: 1 });
    const read = await openStream(relay, "/v1/responses", {
      method: "POST",
      body: { model: "gpt-5-pro", input: "cut me", stream: true, metadata: { sim_stream_cut_after: "2" } },
    });
    // created + queued, then the create stream is cut; the first resume fails (503): backing off.
    await driveUntil(relay, () => read.statuses.some((s) => s.phase === "reconnecting"), { stepMs: 0, tick: false });
    relay.clock.advance(10 * 60_000);
    await driveToEnd(relay, read);
    const id = read.headers.get("location")!.split("/").pop()!;
    const job = (await relay.call("GET", `/v1/responses/${id}`)).body;
    expectWholeStream(read, job);
    // One failed resume, one refused ("more than 5 minutes old"); the rest came from polling.
    expect(relay.sim.stats().ops.stream).toBe(2);
    expect(read.statuses.map((s) => s.phase)).toEqual(expect.arrayContaining(["reconnecting", "polling"]));
  });

  it("works where the upstream streams only responses created streaming (as OpenAI's guide says)", async () => {
    relay.sim.configure({ streamRequiresStreamCreate: true });
    try {
      // Submitted without stream: the upstream refuses to stream it; the relay polls and, at the
      // end, writes the whole stream itself (one delta with the whole text).
      const polled = await submit();
      const read = await openStream(relay, `/v1/responses/${polled.id}?stream=true`);
      await driveToEnd(relay, read);
      expectWholeStream(read, polled);
      expect(read.statuses.map((s) => s.phase)).toContain("polling");
      expect(read.events.filter((e) => e.type === "response.output_text.delta")).toHaveLength(1);

      // Submitted with stream: true, the upstream response is created streaming, so even with
      // every connection cut the relay resumes it live.
      const live = await openStream(relay, "/v1/responses", {
        method: "POST",
        body: { model: "gpt-5-pro", input: "live", stream: true, metadata: { sim_stream_cut_after: "4" } },
      });
      await driveToEnd(relay, live);
      const job = (await relay.call("GET", live.headers.get("location")!)).body;
      expectWholeStream(live, job);
      expect(live.statuses.map((s) => s.phase)).not.toContain("polling");
      expect(live.events.filter((e) => e.type === "response.output_text.delta").length).toBeGreaterThan(10);
    } finally {
      relay.sim.configure({ streamRequiresStreamCreate: false });
    }
  });

  it("refuses a bad body before any stream starts", async () => {
    const res = await relay.call("POST", "/v1/responses", { input: "no model", stream: true });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe("model");
  });
});

describe("the status endpoint agrees with a finished stream", () => {
  it("records the end the stream saw, without waiting for the poller", async () => {
    const job = await submit();
    const read = await openStream(relay, `/v1/responses/${job.id}?stream=true`);
    await driveToEnd(relay, read, { tick: false });
    expect(read.events.at(-1)!.type).toBe("response.completed");
    let status = "";
    for (let i = 0; i < 50 && status !== "completed"; i++) {
      status = (await relay.call("GET", `/v1/responses/${job.id}`)).body.status;
      if (status !== "completed") await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe("completed");
  });
});
