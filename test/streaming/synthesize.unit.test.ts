import { describe, expect, it } from "vitest";
import type { StreamEvent } from "#shared/ports.ts";
import { frameComment, frameEvent, SseParser, type SseMessage } from "#shared/streaming/sse.ts";
import { StreamState } from "#shared/streaming/stream-state.ts";
import { closingEvents, pieces, SYNTHETIC_DELTA_CHARS } from "#shared/streaming/synthesize.ts";

const TEXT = "The tide comes in, the tide goes out, and the moon keeps the time.";
const message = (text: string, status = "completed") => ({
  id: "msg_1",
  type: "message",
  status,
  role: "assistant",
  content: [{ type: "output_text", text, annotations: [], logprobs: [] }],
});
const final = (status: string, output: unknown[]) => ({
  id: "resp_job",
  object: "response",
  status,
  background: true,
  output,
  usage: { input_tokens: 5, output_tokens: 20, total_tokens: 25 },
  metadata: {},
});
const at = { item_id: "msg_1", output_index: 0, content_index: 0 };

function stateOf(events: Omit<StreamEvent, "sequence_number">[]): StreamState {
  const state = new StreamState();
  for (const [i, event] of events.entries()) state.apply({ ...event, sequence_number: i } as StreamEvent);
  return state;
}

const OPENED = [
  { type: "response.created", response: { status: "queued" } },
  { type: "response.queued", response: { status: "queued" } },
  { type: "response.in_progress", response: { status: "in_progress" } },
  {
    type: "response.output_item.added",
    output_index: 0,
    item: { id: "msg_1", type: "message", status: "in_progress", content: [], role: "assistant" },
  },
  {
    type: "response.content_part.added",
    ...at,
    part: { type: "output_text", text: "", annotations: [], logprobs: [] },
  },
];

describe("the events the relay writes itself", () => {
  it("continue a stream cut mid-text: the rest of the text, then the closing events, numbered on", () => {
    const state = stateOf([
      ...OPENED,
      { type: "response.output_text.delta", ...at, delta: TEXT.slice(0, 20) },
      { type: "response.output_text.delta", ...at, delta: TEXT.slice(20, 31) },
    ]);
    const events = closingEvents(state, final("completed", [message(TEXT)]), "completed", 7);
    expect(events.map((e) => e.type)).toEqual([
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual([7, 8, 9, 10, 11]);
    expect(events[0]).toMatchObject({ ...at, delta: TEXT.slice(31), logprobs: [] });
    expect(events[1]).toMatchObject({ text: TEXT });
    expect((events[4]!.response as any).usage).toEqual({ input_tokens: 5, output_tokens: 20, total_tokens: 25 });
  });

  it("write the whole stream when nothing was streamed, in OpenAI's order", () => {
    const events = closingEvents(
      new StreamState(),
      final("completed", [
        { id: "rs_1", type: "reasoning", summary: [{ type: "summary_text", text: "thought" }] },
        message(TEXT),
      ]),
      "completed",
      0,
    );
    expect(events.map((e) => e.type)).toEqual([
      "response.created",
      "response.queued",
      "response.in_progress",
      "response.output_item.added",
      "response.output_item.done",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(events[0]!.response as any).toMatchObject({ status: "queued", output: [], usage: null });
    expect(events[3]).toMatchObject({ output_index: 0, item: { id: "rs_1", type: "reasoning", summary: [] } });
    expect(events[5]).toMatchObject({ output_index: 1, item: { id: "msg_1", status: "in_progress", content: [] } });
    expect(events[7]).toMatchObject({ output_index: 1, delta: TEXT });
  });

  it("repeat nothing already sent, and never contradict it", () => {
    const done = stateOf([
      ...OPENED,
      { type: "response.output_text.delta", ...at, delta: TEXT },
      { type: "response.output_text.done", ...at, text: TEXT },
      { type: "response.content_part.done", ...at, part: message(TEXT).content[0] },
    ]);
    expect(closingEvents(done, final("completed", [message(TEXT)]), "completed", 8).map((e) => e.type)).toEqual([
      "response.output_item.done",
      "response.completed",
    ]);
    // Streamed text that is not a prefix of the final one gets no more deltas; done carries the truth.
    const odd = stateOf([...OPENED, { type: "response.output_text.delta", ...at, delta: "Something else" }]);
    const events = closingEvents(odd, final("completed", [message(TEXT)]), "completed", 6);
    expect(events.some((e) => e.type === "response.output_text.delta")).toBe(false);
    expect(events.find((e) => e.type === "response.output_text.done")).toMatchObject({ text: TEXT });
  });

  it("end failed and cancelled streams with response.failed alone, incomplete ones after closing their items", () => {
    const midway = () => stateOf([...OPENED, { type: "response.output_text.delta", ...at, delta: TEXT.slice(0, 10) }]);
    expect(closingEvents(midway(), final("failed", []), "failed", 6).map((e) => e.type)).toEqual(["response.failed"]);
    expect(
      closingEvents(midway(), final("incomplete", [message(TEXT.slice(0, 30), "incomplete")]), "incomplete", 6).map(
        (e) => e.type,
      ),
    ).toEqual([
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.incomplete",
    ]);
    // A cancelled stream ends with response.failed carrying status "cancelled" (SDK helpers read it as final).
    const cancelled = closingEvents(
      midway(),
      final("cancelled", [message(TEXT.slice(0, 10), "in_progress")]),
      "cancelled",
      6,
    );
    expect(cancelled.map((e) => e.type)).toEqual(["response.failed"]);
    expect((cancelled[0]!.response as { status: string }).status).toBe("cancelled");
  });

  it("send long texts in pieces, never splitting a character", () => {
    const long = "é".repeat(SYNTHETIC_DELTA_CHARS) + "😀".repeat(SYNTHETIC_DELTA_CHARS);
    const parts = pieces(long);
    expect(parts.join("")).toBe(long);
    expect(parts.every((p) => p.length <= SYNTHETIC_DELTA_CHARS && !/[\ud800-\udbff]$/.test(p))).toBe(true);
  });
});

describe("SSE framing", () => {
  const event: StreamEvent = {
    type: "response.output_text.delta",
    sequence_number: 12,
    delta: "a\nb: c",
    logprobs: [],
  };

  it("frames events as OpenAI does, plus an id line, and status as comments", () => {
    expect(frameEvent(event)).toBe(`event: response.output_text.delta\ndata: ${JSON.stringify(event)}\nid: 12\n\n`);
    expect(frameComment("relay status {}")).toBe(": relay status {}\n\n");
  });

  it("parses its own frames however the bytes are split, CRLF and comments included", () => {
    const text = `: hello\r\n\r\n${frameEvent(event)}${frameEvent({ ...event, sequence_number: 13, delta: "✓ done" })}event: x\ndata: one\ndata: two\n\n`;
    const bytes = new TextEncoder().encode(text);
    const expected: SseMessage[] = [
      { kind: "comment", text: "hello" },
      { kind: "event", event: event.type, data: JSON.stringify(event), id: "12" },
      {
        kind: "event",
        event: event.type,
        data: JSON.stringify({ ...event, sequence_number: 13, delta: "✓ done" }),
        id: "13",
      },
      { kind: "event", event: "x", data: "one\ntwo", id: null },
    ];
    for (const size of [1, 2, 3, 7, 64, bytes.length]) {
      const parser = new SseParser();
      const out: SseMessage[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(...parser.push(bytes.subarray(i, i + size)));
      out.push(...parser.end());
      expect(out).toEqual(expected);
    }
  });

  it("drops an unterminated message at the end of input", () => {
    const parser = new SseParser();
    expect(parser.push("event: a\ndata: {}")).toEqual([]);
    expect(parser.end()).toEqual([]);
  });
});
