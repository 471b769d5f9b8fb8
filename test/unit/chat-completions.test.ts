import { describe, expect, it } from "vitest";
import { ChatTranslator, chatRequest } from "#shared/upstream/chat-completions.ts";
import { outputSoFar, RerunFilter } from "#shared/streaming/emulated-events.ts";
import type { StreamEvent } from "#shared/ports.ts";

describe("a Responses request as a chat request", () => {
  it("turns instructions, input items and tool fields into their chat forms", () => {
    const request = chatRequest({
      model: "qwen",
      instructions: "Be brief.",
      input: [
        { role: "developer", content: "Use metric units." },
        { type: "message", role: "user", content: [{ type: "input_text", text: "Weather?" }] },
        { type: "function_call", call_id: "call_1", name: "weather", arguments: "{}" },
        { type: "function_call_output", call_id: "call_1", output: "sunny" },
      ],
      max_output_tokens: 200,
      tools: [{ type: "function", name: "weather", parameters: { type: "object" } }],
      tool_choice: { type: "function", name: "weather" },
      text: { format: { type: "json_schema", name: "w", schema: { type: "object" } } },
    });
    expect(request.ok).toBe(true);
    if (!request.ok) return;
    expect(request.body).toMatchObject({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "system", content: "Use metric units." },
        { role: "user", content: "Weather?" },
        { role: "assistant", tool_calls: [{ id: "call_1", function: { name: "weather", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "call_1", content: "sunny" },
      ],
      max_tokens: 200,
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: "function", function: { name: "weather", parameters: { type: "object" } } }],
      tool_choice: { type: "function", function: { name: "weather" } },
      response_format: { type: "json_schema", json_schema: { name: "w", schema: { type: "object" } } },
    });
  });

  it.each([
    [{ input: "x", tools: [{ type: "web_search" }] }, "tools[0]"],
    [{ input: [{ type: "input_file" }] }, "input[0]"],
    [{ input: [{ role: "user", content: [{ type: "input_file", file_id: "f" }] }] }, "input[0].content[0]"],
    [{ input: "x", previous_response_id: "resp_1" }, "previous_response_id"],
  ])("refuses what chat cannot carry, naming the field (%#)", (body, param) => {
    const request = chatRequest({ model: "m", ...body });
    expect(request).toMatchObject({ ok: false, param });
  });
});

describe("a chat stream as Responses events", () => {
  const translator = () => new ChatTranslator({ idSeed: "abc", model: "qwen", createdAt: 100, now: () => 200 });
  const chunk = (delta: object, finish: string | null = null) => ({
    choices: [{ index: 0, delta, finish_reason: finish }],
  });

  it("opens, streams text, and ends with the whole Response and its usage", () => {
    const t = translator();
    const events = [
      ...t.opened(),
      ...t.chunk(chunk({ role: "assistant", content: "" })),
      ...t.chunk(chunk({ content: "Hel" })),
      ...t.chunk(chunk({ content: "lo" })),
      ...t.chunk(chunk({}, "stop")),
      ...t.chunk({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 } }),
      ...t.end(),
    ];
    expect(events.map((e) => e.type)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const final = events.at(-1)!.response as any;
    expect(final).toMatchObject({ status: "completed", completed_at: 200, incomplete_details: null });
    expect(final.output[0].content[0].text).toBe("Hello");
    expect(final.usage).toEqual({
      input_tokens: 12,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 2,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 14,
    });
  });

  it("maps length to incomplete with max_output_tokens, and streams tool calls as function_call items", () => {
    const t = translator();
    t.opened();
    t.chunk(chunk({ tool_calls: [{ index: 0, id: "call_9", function: { name: "f", arguments: '{"a"' } }] }));
    t.chunk(chunk({ tool_calls: [{ index: 0, function: { arguments: ":1}" } }] }, "length"));
    const end = t.end();
    const final = end.at(-1)!;
    expect(final.type).toBe("response.incomplete");
    expect((final.response as any).incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect((final.response as any).output[0]).toMatchObject({
      type: "function_call",
      call_id: "call_9",
      name: "f",
      arguments: '{"a":1}',
      status: "incomplete",
    });
  });

  it("knows a stream cut before its finish reason is not finished", () => {
    const t = translator();
    t.chunk(chunk({ content: "partial" }));
    expect(t.finished).toBe(false);
  });
});

describe("a rerun's events on top of what readers were told", () => {
  const ev = (type: string, fields: Record<string, unknown> = {}, seq = 0): StreamEvent => ({
    type,
    sequence_number: seq,
    ...fields,
  });
  const told = [
    ev("response.created"),
    ev("response.in_progress"),
    ev("response.output_item.added", { output_index: 0, item: { type: "message", content: [] } }),
    ev("response.content_part.added", { output_index: 0, content_index: 0, part: { type: "output_text", text: "" } }),
    ev("response.output_text.delta", { output_index: 0, content_index: 0, delta: "Hello wo" }),
  ];
  const delta = (text: string) => ev("response.output_text.delta", { output_index: 0, content_index: 0, delta: text });

  it("drops what was told and passes only the text past it", () => {
    const filter = new RerunFilter(told);
    expect(filter.pass(ev("response.created"))).toBeNull();
    expect(filter.pass(told[2]!)).toBeNull();
    expect(filter.pass(delta("Hel"))).toBeNull();
    expect(filter.pass(delta("lo w"))).toBeNull();
    expect(filter.pass(delta("orld"))?.delta).toBe("rld");
    expect(filter.pass(delta("!"))?.delta).toBe("!");
    expect(
      filter.pass(ev("response.output_text.done", { output_index: 0, content_index: 0, text: "x" })),
    ).not.toBeNull();
  });

  it("sends no more deltas for a part whose rerun text differs", () => {
    const filter = new RerunFilter(told);
    expect(filter.pass(delta("Goodbye"))).toBeNull();
    expect(filter.pass(delta(" and more text"))).toBeNull();
  });

  it("builds the output streamed so far", () => {
    expect(outputSoFar(told)).toEqual([{ type: "message", content: [{ type: "output_text", text: "Hello wo" }] }]);
  });
});
