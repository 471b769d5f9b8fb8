import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputText } from "#shared/domain/response-view.ts";
import type { StreamEvent } from "#shared/ports.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { deltaText, driveToEnd, driveUntil, openStream, range, seqs } from "./support.ts";

const HOUR = 3600_000;

let relay: RelayHarness;
beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 4000, outputBytes: 2000 } });
});
afterAll(() => relay.close());

const submit = async (metadata: Record<string, string> = {}) => {
  const res = await relay.call("POST", "/v1/responses", {
    background: true,
    model: "gpt-5-pro",
    input: `resume test ${Math.random()}`,
    metadata,
  });
  expect(res.status).toBe(202);
  return res.body as { id: string; relay: { upstream_id: string } };
};

const replay = async (id: string, cursor?: number, headers: Record<string, string> = {}) => {
  const read = await openStream(
    relay,
    `/v1/responses/${id}?stream=true${cursor === undefined ? "" : `&starting_after=${cursor}`}`,
    { headers },
  );
  await read.done;
  return read;
};

describe("resuming the relay's stream", () => {
  it("gives a caller who disconnects and comes back minutes later exactly the rest", async () => {
    const job = await submit({ sim_run_ms: String(5 * 60_000), sim_stream_cut_after: "6" });
    const whole = await openStream(relay, `/v1/responses/${job.id}?stream=true`);
    const first = await openStream(relay, `/v1/responses/${job.id}?stream=true`, { stopAfter: 9 });
    await driveUntil(relay, () => first.stoppedEarly, { stepMs: 10_000 });
    await first.done;
    relay.clock.advance(3 * 60_000); // away for three minutes; the job runs on
    const rest = await openStream(relay, `/v1/responses/${job.id}?stream=true`, { headers: { "last-event-id": "8" } });
    await driveToEnd(relay, rest, { stepMs: 10_000 });
    await driveToEnd(relay, whole, { stepMs: 10_000 });

    expect(whole.events.at(-1)!.type).toBe("response.completed");
    expect(seqs(rest.events)).toEqual(range(9, whole.events.length - 9));
    expect([...first.events, ...rest.events]).toEqual(whole.events);
  });

  it("serves any cursor hours later from the relay's own log, long after the upstream forgot", async () => {
    const job = await submit({ sim_stream_cut_after: "4" });
    const whole = await openStream(relay, `/v1/responses/${job.id}?stream=true`);
    await driveToEnd(relay, whole);
    const all = whole.events;
    expect(seqs(all)).toEqual(range(0, all.length));
    const upstreamStreams = relay.sim.stats().ops.stream;

    for (const cursor of [0, 1, 5, Math.floor(all.length / 2), all.length - 2, all.length - 1]) {
      relay.clock.advance(5 * HOUR);
      const read = await replay(job.id, cursor);
      expect(read.events).toEqual(all.slice(cursor + 1));
    }
    // Last-Event-ID (what an EventSource sends on reconnect) wins over the URL's starting_after.
    const viaHeader = await replay(job.id, 2, { "last-event-id": "10" });
    expect(viaHeader.events).toEqual(all.slice(11));
    // Past the end: nothing, and the stream closes.
    expect((await replay(job.id, all.length + 5)).events).toEqual([]);
    // None of it asked the upstream (whose resume window closed days ago).
    expect(relay.sim.stats().ops.stream).toBe(upstreamStreams);
  });

  it("writes the whole stream of a finished job nobody streamed once, from its final output, and serves it identically forever", async () => {
    const job = await submit();
    const done = await relay.settle(job.id);
    relay.clock.advance(2 * HOUR); // the upstream refuses to stream it now
    const before = relay.sim.stats().ops.stream;

    const read = await replay(job.id);
    const types = read.events.map((e) => e.type);
    expect(types.slice(0, 5)).toEqual([
      "response.created",
      "response.queued",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
    ]);
    expect(types.slice(-4)).toEqual([
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(seqs(read.events)).toEqual(range(0, read.events.length));
    expect(deltaText(read.events)).toBe(outputText(done.output));
    const completed = read.events.at(-1)! as StreamEvent & { response: any };
    expect(completed.response).toMatchObject({
      id: job.id,
      status: "completed",
      usage: done.usage,
      output: done.output,
    });
    expect(completed.response.metadata).toEqual({});
    expect(relay.sim.stats().ops.stream).toBe(before + 1); // one try, refused: "more than 5 minutes old"

    relay.clock.advance(24 * HOUR);
    const again = await replay(job.id);
    expect(again.events).toEqual(read.events);
    expect((await replay(job.id, 3)).events).toEqual(read.events.slice(4));
    expect(relay.sim.stats().ops.stream).toBe(before + 1);
    // Stored once, as one final batch written by the relay.
    const stored = await relay.deps.eventLog.read(job.id, -1);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ first: 0, upstreamCursor: null, end: { status: "completed" } });
  });

  it("keeps multi-MB streams intact, live and replayed", async () => {
    const job = await submit({ sim_output_bytes: String(1_100_000), sim_stream_cut_after: "60" });
    const whole = await openStream(relay, `/v1/responses/${job.id}?stream=true`);
    await driveToEnd(relay, whole);
    const upstream = relay.sim.getResponse(job.relay.upstream_id) as any;
    expect(seqs(whole.events)).toEqual(range(0, whole.events.length));
    expect(deltaText(whole.events)).toBe(upstream.output[0].content[0].text);
    expect((whole.events.at(-1) as any).response.output).toEqual(upstream.output);

    relay.clock.advance(3 * HOUR);
    const tail = await replay(job.id, whole.events.length - 6);
    expect(tail.events).toEqual(whole.events.slice(-5));
  });
});
