import { afterEach, beforeEach, describe, expect, it } from "vitest";
import OpenAI from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import {
  BASE_REQUEST,
  jsonOf,
  caught,
  collect,
  deltasOf,
  startHarness,
  textOf,
  waitFor,
  type SimHarness,
} from "./helpers.ts";

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

describe("simulator: streaming and resume", () => {
  let h: SimHarness;
  beforeEach(async () => {
    h = await startHarness({ behaviour: { queuedMs: 1000, runMs: 4000, outputBytes: 600 } });
  });
  afterEach(() => h.sim.close());

  it("streams a background create in the documented order with contiguous sequence numbers", async () => {
    const stream = await h.client.responses.create({ ...BASE_REQUEST, stream: true });
    h.clock.advance(5000);
    const { events, error } = await collect(stream);
    expect(error).toBeUndefined();

    const types = events.map((e) => e.type);
    expect(types.slice(0, 5)).toEqual(OPENING);
    expect(types.slice(-4)).toEqual(CLOSING);
    const deltas = types.slice(5, -4);
    expect(deltas.length).toBeGreaterThan(1);
    expect(new Set(deltas)).toEqual(new Set(["response.output_text.delta"]));
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));

    const created = events[0] as Extract<ResponseStreamEvent, { type: "response.created" }>;
    expect(created.response).toMatchObject({ status: "queued", background: true, output: [] });
    const delta = events[5] as Extract<ResponseStreamEvent, { type: "response.output_text.delta" }>;
    expect(delta).toMatchObject({
      output_index: 0,
      content_index: 0,
      logprobs: [],
      item_id: expect.stringMatching(/^msg_/),
    });
    const completed = events.at(-1) as Extract<ResponseStreamEvent, { type: "response.completed" }>;
    expect(completed.response.status).toBe("completed");
    expect(completed.response.usage).not.toBeNull();

    const final = await h.client.responses.retrieve(created.response.id);
    expect(deltasOf(events)).toBe(final.output_text);
    const textDone = events.find((e) => e.type === "response.output_text.done");
    expect(textDone).toMatchObject({ text: final.output_text });
  });

  it("delivers events live as the clock reaches them", async () => {
    const stream = await h.client.responses.create({ ...BASE_REQUEST, stream: true });
    const received: ResponseStreamEvent[] = [];
    const consuming = (async () => {
      for await (const e of stream) received.push(e);
    })();

    await waitFor(() => received.length === 2);
    await new Promise((r) => setTimeout(r, 60));
    expect(received.map((e) => e.type)).toEqual(["response.created", "response.queued"]);

    h.clock.advance(1000 + 2000); // halfway through the run
    await waitFor(() => received.some((e) => e.type === "response.output_text.delta"));
    await new Promise((r) => setTimeout(r, 60));
    expect(received.some((e) => e.type === "response.completed")).toBe(false);

    h.clock.advance(2000);
    await consuming;
    expect(received.at(-1)?.type).toBe("response.completed");
  });

  it("resumes with starting_after: exactly the events after the cursor", async () => {
    const stream = await h.client.responses.create({ ...BASE_REQUEST, stream: true });
    h.clock.advance(5000);
    const { events: all } = await collect(stream);
    const id = (all[0] as Extract<ResponseStreamEvent, { type: "response.created" }>).response.id;

    const cursor = 7;
    const resumed = await collect(await h.client.responses.retrieve(id, { stream: true, starting_after: cursor }));
    expect(resumed.events).toEqual(all.slice(cursor + 1));
    expect(resumed.events[0]?.sequence_number).toBe(cursor + 1);

    // Without a cursor the whole stored log is replayed with the same numbers.
    const replay = await collect(await h.client.responses.retrieve(id, { stream: true }));
    expect(replay.events.map((e) => e.sequence_number)).toEqual(all.map((e) => e.sequence_number));
    expect(replay.events).toEqual(all);
  });

  it("streams a job created without stream:true (unless told to refuse)", async () => {
    const { id } = await h.client.responses.create(BASE_REQUEST);
    h.clock.advance(5000);
    const { events } = await collect(await h.client.responses.retrieve(id, { stream: true, starting_after: 1 }));
    expect(events[0]?.type).toBe("response.in_progress");
    expect(events.at(-1)?.type).toBe("response.completed");

    h.sim.configure({ streamRequiresStreamCreate: true });
    const err = await caught(h.client.responses.retrieve(id, { stream: true }));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it("cuts every connection after N events, and resuming from the last seen number loses and repeats nothing", async () => {
    const stream = await h.client.responses.create({
      ...BASE_REQUEST,
      stream: true,
      metadata: { sim_stream_cut_after: "10" },
    });
    h.clock.advance(5000);
    const first = await collect(stream);
    expect(first.events).toHaveLength(10);
    expect(first.error).toBeDefined(); // the SDK sees the connection die mid-body
    const id = (first.events[0] as Extract<ResponseStreamEvent, { type: "response.created" }>).response.id;

    const seen = [...first.events];
    let connections = 1;
    while (seen.at(-1)?.type !== "response.completed") {
      const cursor = seen.at(-1)!.sequence_number;
      const next = await collect(await h.client.responses.retrieve(id, { stream: true, starting_after: cursor }));
      expect(next.events.length).toBeGreaterThan(0);
      seen.push(...next.events);
      connections += 1;
      expect(connections).toBeLessThan(20);
    }
    expect(seen.map((e) => e.sequence_number)).toEqual(seen.map((_, i) => i));
    expect(connections).toBe(Math.ceil(seen.length / 10));
    expect(deltasOf(seen)).toBe((await h.client.responses.retrieve(id)).output_text);
  });

  it("applies a global streamCutAfter to every stream connection", async () => {
    h.sim.configure({ streamCutAfter: 3 });
    const { id } = await h.client.responses.create(BASE_REQUEST);
    h.clock.advance(5000);
    const cut = await collect(await h.client.responses.retrieve(id, { stream: true, starting_after: 4 }));
    expect(cut.events.map((e) => e.sequence_number)).toEqual([5, 6, 7]);
    expect(cut.error).toBeDefined();
    h.sim.configure({ streamCutAfter: null });
    const rest = await collect(await h.client.responses.retrieve(id, { stream: true, starting_after: 7 }));
    expect(rest.error).toBeUndefined();
    expect(rest.events[0]?.sequence_number).toBe(8);
    expect(rest.events.at(-1)?.type).toBe("response.completed");
  });

  it("ends an open stream without a terminal event when the response is cancelled", async () => {
    const stream = await h.client.responses.create({ ...BASE_REQUEST, stream: true });
    const received: ResponseStreamEvent[] = [];
    const consuming = (async () => {
      for await (const e of stream) received.push(e);
    })();
    h.clock.advance(2000);
    await waitFor(() => received.some((e) => e.type === "response.output_text.delta"));
    const id = (received[0] as Extract<ResponseStreamEvent, { type: "response.created" }>).response.id;
    const cancelled = await h.client.responses.cancel(id);
    await consuming;
    expect(received.every((e) => !e.type.startsWith("response.completed"))).toBe(true);
    expect(cancelled.status).toBe("cancelled");
    expect(textOf(cancelled).length).toBeGreaterThan(0);
    expect(deltasOf(received)).toBe(textOf(cancelled));
    h.clock.advance(10_000);
    // The stored log stays frozen at the cancel.
    const replay = await collect(await h.client.responses.retrieve(id, { stream: true }));
    expect(replay.events).toHaveLength(received.length);
  });

  it("streams failed and incomplete outcomes to their own terminal events", async () => {
    for (const [outcome, terminal] of [
      ["failed", "response.failed"],
      ["incomplete", "response.incomplete"],
    ] as const) {
      const stream = await h.client.responses.create({
        ...BASE_REQUEST,
        stream: true,
        metadata: { sim_outcome: outcome },
      });
      h.clock.advance(5000);
      const { events, error } = await collect(stream);
      expect(error).toBeUndefined();
      expect(events.at(-1)?.type).toBe(terminal);
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    }
  });

  it("refuses to stream a response that was not created in background", async () => {
    const { id } = await h.client.responses.create({ model: "gpt-5-pro", input: "sync" });
    const err = await caught(h.client.responses.retrieve(id, { stream: true }));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toBe(
      "400 This response cannot be streamed because it was not created with background=true.",
    );
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("stream");
  });

  it("refuses to stream more than 5 minutes after the end, while a plain GET still works", async () => {
    const { id } = await h.client.responses.create(BASE_REQUEST);
    h.clock.advance(5000 + 5 * 60_000);
    const ok = await collect(await h.client.responses.retrieve(id, { stream: true }));
    expect(ok.events.at(-1)?.type).toBe("response.completed");

    h.clock.advance(1);
    const err = await caught(h.client.responses.retrieve(id, { stream: true, starting_after: 3 }));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toBe(
      "400 This response can no longer be streamed because it is more than 5 minutes old.",
    );
    expect((await h.client.responses.retrieve(id)).status).toBe("completed");
  });

  it("frames raw SSE as event/data pairs with no [DONE], and honours include_obfuscation=false", async () => {
    const { id } = await h.client.responses.create(BASE_REQUEST);
    h.clock.advance(5000);
    const res = await fetch(`${h.sim.url}/responses/${id}?stream=true`, {
      headers: { authorization: "Bearer sk-test" },
    });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    const raw = await res.text();
    expect(raw.startsWith('event: response.created\ndata: {"type":"response.created","sequence_number":0,')).toBe(true);
    expect(raw.endsWith("\n\n")).toBe(true);
    expect(raw).not.toContain("[DONE]");
    const frames = raw.trim().split("\n\n");
    for (const frame of frames) {
      const [eventLine = "", dataLine = ""] = frame.split("\n");
      expect(JSON.parse(dataLine.slice("data: ".length)).type).toBe(eventLine.slice("event: ".length));
    }
    expect(raw).toContain('"obfuscation"');

    const plain = await (await fetch(`${h.sim.url}/responses/${id}?stream=true&include_obfuscation=false`)).text();
    expect(plain).not.toContain('"obfuscation"');
  });

  it("rejects a malformed cursor", async () => {
    const { id } = await h.client.responses.create(BASE_REQUEST);
    const res = await fetch(`${h.sim.url}/responses/${id}?stream=true&starting_after=abc`);
    expect(res.status).toBe(400);
    expect((await jsonOf(res)).error.param).toBe("starting_after");
  });
});
