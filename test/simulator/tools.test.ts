import OpenAI from "openai";
import type { FunctionTool, ResponseFunctionToolCall } from "openai/resources/responses/responses";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { caught, collect, type SimHarness, startHarness } from "./helpers.ts";

const weather: FunctionTool = {
  type: "function",
  name: "get_weather",
  description: "Current weather for a city.",
  parameters: {
    type: "object",
    properties: { city: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
    required: ["city", "unit"],
    additionalProperties: false,
  },
  strict: true,
};
const clock: FunctionTool = {
  type: "function",
  name: "get_time",
  parameters: { type: "object", properties: { zone: { type: "string" } }, required: ["zone"] },
  strict: false,
};

const callOf = (response: { output: Array<{ type: string }> }) =>
  response.output.find((item) => item.type === "function_call") as ResponseFunctionToolCall | undefined;

describe("simulator: function tools", () => {
  let h: SimHarness;
  beforeEach(async () => {
    h = await startHarness({ behaviour: { queuedMs: 0, runMs: 0, outputBytes: 120 } });
  });
  afterEach(() => h.sim.close());

  it("runs a full round trip: function_call, then a message that uses the tool's output", async () => {
    const first = await h.client.responses.create({
      model: "gpt-4.1",
      input: "What is the weather in Paris? Use get_weather.",
      tools: [clock, weather],
    });
    const call = callOf(first);
    expect(call).toMatchObject({ type: "function_call", name: "get_weather", status: "completed" });
    expect(call?.id).toMatch(/^fc_/);
    expect(call?.call_id).toMatch(/^call_/);
    const args = JSON.parse(call?.arguments ?? "");
    expect(Object.keys(args).sort()).toEqual(["city", "unit"]);
    expect(typeof args.city).toBe("string");
    expect(["celsius", "fahrenheit"]).toContain(args.unit);
    expect(first.output_text).toBe("");
    expect(first.tools[1]).toEqual(weather);
    expect(first.tools[0]).toMatchObject({ name: "get_time", strict: false, description: null });

    const second = await h.client.responses.create({
      model: "gpt-4.1",
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: call?.call_id ?? "", output: '{"temp_c":21,"sky":"clear"}' }],
      tools: [clock, weather],
    });
    expect(second.output[0]?.type).toBe("message");
    expect(second.output_text).toContain('The get_weather call returned {"temp_c":21,"sky":"clear"}.');
  });

  it("calls a tool when tool_choice is required or names it, and never when it is none", async () => {
    const base = { model: "gpt-4.1", input: "Hello there.", tools: [weather, clock] };
    expect(callOf(await h.client.responses.create({ ...base, tool_choice: "required" }))?.name).toBe("get_weather");
    const named = await h.client.responses.create({ ...base, tool_choice: { type: "function", name: "get_time" } });
    expect(callOf(named)?.name).toBe("get_time");
    expect(named.tool_choice).toEqual({ type: "function", name: "get_time" });
    expect(JSON.parse(callOf(named)?.arguments ?? "")).toEqual({ zone: expect.any(String) });
    // auto (the default) without a mention answers in words
    expect(callOf(await h.client.responses.create(base))).toBeUndefined();
    const none = await h.client.responses.create({ ...base, input: "get_weather please", tool_choice: "none" });
    expect(none.output[0]?.type).toBe("message");
  });

  it("accepts a stateless round trip that replays the call in the input", async () => {
    const reply = await h.client.responses.create({
      model: "gpt-4.1",
      store: false,
      tools: [weather],
      input: [
        { role: "user", content: "Weather in Oslo via get_weather?" },
        { type: "function_call", call_id: "call_local1", name: "get_weather", arguments: '{"city":"Oslo"}' },
        { type: "function_call_output", call_id: "call_local1", output: "snow" },
      ],
    });
    expect(reply.output_text).toContain("The get_weather call returned snow.");
  });

  it("refuses a function_call_output whose call_id no call made, and an unknown named tool", async () => {
    const err = await caught(
      h.client.responses.create({
        model: "gpt-4.1",
        input: [{ type: "function_call_output", call_id: "call_ghost", output: "x" }],
      }),
    );
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({
      param: "input",
      code: null,
      error: { message: "No tool call found for function call output with call_id call_ghost." },
    });
    const named = await caught(
      h.client.responses.create({
        model: "gpt-4.1",
        input: "hi",
        tools: [weather],
        tool_choice: { type: "function", name: "nope" },
      }),
    );
    expect(named).toMatchObject({ status: 400, param: "tool_choice" });
    const missing = await caught(
      h.client.responses.create({ model: "gpt-4.1", input: "hi", tools: [{ type: "function" } as FunctionTool] }),
    );
    expect(missing).toMatchObject({ status: 400, param: "tools[0].name", code: "missing_required_parameter" });
  });

  it("streams the call the way OpenAI does, and the SDK's helper assembles it", async () => {
    h.sim.configure({ queuedMs: 1000, runMs: 2000 });
    const stream = h.client.responses.stream({
      model: "gpt-4.1",
      input: "get_weather for Rome",
      tools: [weather],
      background: true,
    });
    const done = collect(stream);
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 5));
      h.clock.advance(100);
    }
    const { events, error } = await done;
    expect(error).toBeUndefined();
    const types = events.map((e) => e.type);
    expect(types.filter((t) => !t.endsWith(".delta"))).toEqual([
      "response.created",
      "response.queued",
      "response.in_progress",
      "response.output_item.added",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(types).not.toContain("response.content_part.added");
    const deltas = events.flatMap((e) => (e.type === "response.function_call_arguments.delta" ? [e.delta] : []));
    expect(deltas.length).toBeGreaterThan(0);
    const final = await stream.finalResponse();
    const call = callOf(final);
    expect(deltas.join("")).toBe(call?.arguments);
    const doneEvent = events.find((e) => e.type === "response.function_call_arguments.done");
    expect(doneEvent).toMatchObject({ name: "get_weather", arguments: call?.arguments, item_id: call?.id });
    expect(events.find((e) => e.type === "response.output_item.added")).toMatchObject({
      item: { type: "function_call", status: "in_progress", arguments: "", call_id: call?.call_id },
    });
  });

  it("shows partial arguments while the call is being written", async () => {
    h.sim.configure({ queuedMs: 0, runMs: 1000 });
    const tool: FunctionTool = {
      type: "function",
      name: "search",
      strict: true,
      parameters: {
        type: "object",
        properties: { terms: { type: "array", items: { type: "string" }, minItems: 8, maxItems: 8 } },
        required: ["terms"],
        additionalProperties: false,
      },
    };
    const { id } = await h.client.responses.create({
      model: "gpt-4.1",
      input: "search",
      tools: [tool],
      background: true,
    });
    h.clock.advance(500);
    const partial = await h.client.responses.retrieve(id);
    h.clock.advance(500);
    const full = await h.client.responses.retrieve(id);
    expect(callOf(partial)?.status).toBe("in_progress");
    expect(callOf(full)?.status).toBe("completed");
    expect(callOf(full)?.arguments.startsWith(callOf(partial)?.arguments ?? "x")).toBe(true);
    expect(JSON.parse(callOf(full)?.arguments ?? "").terms).toHaveLength(8);
  });
});
