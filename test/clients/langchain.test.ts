import { type AIMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { ChatOpenAI } from "@langchain/openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { RelayHarness } from "#test/support/relay.ts";
import { driven, relayOf, startClientRelay } from "./support.ts";

/** LangChain's ChatOpenAI on the Responses API, pointed at the relay. */
let relay: RelayHarness;
let chat: ChatOpenAI;
beforeAll(async () => {
  relay = await startClientRelay();
  chat = new ChatOpenAI({
    model: "gpt-5-pro",
    apiKey: relay.apiKey,
    useResponsesApi: true,
    maxRetries: 0,
    configuration: { baseURL: `${relay.url}/v1` },
  });
});
afterAll(() => relay.close());

describe("LangChain ChatOpenAI (useResponsesApi) against the relay", () => {
  it("invoke() answers with the finished text", async () => {
    const message = await driven(relay, chat.invoke("Say something."));
    expect(message.text.length).toBeGreaterThan(0);
    expect(message.id).toMatch(/^resp_/);
    expect((await relay.call("GET", `/v1/responses/${message.id}`)).body.status).toBe("completed");
  });

  it("stream() streams the text to the end", async () => {
    const text = await driven(relay, async () => {
      let all = "";
      for await (const chunk of await chat.stream("Stream something.")) all += chunk.text;
      return all;
    });
    expect(text.length).toBeGreaterThan(0);
  });

  it("withStructuredOutput() gives an object that fits the schema", async () => {
    const City = z.object({ name: z.string(), population: z.number() });
    const result = await driven(relay, chat.withStructuredOutput(City, { name: "city" }).invoke("A big city."));
    expect(City.safeParse(result).success).toBe(true);
  });

  it("chains two turns with previous_response_id", async () => {
    const first = await driven(relay, chat.invoke("My name is Ada."));
    const second = await driven(relay, chat.invoke("What is my name?", { previous_response_id: first.id }));
    expect(second.text.length).toBeGreaterThan(0);
    const status = (await relay.call("GET", `/v1/responses/${second.id}`)).body;
    expect(status.previous_response_id).toBe(first.id);
    const firstStatus = (await relay.call("GET", `/v1/responses/${first.id}`)).body;
    const upstreamSecond = relay.sim.getResponse(relayOf(status).upstream_id!) as { previous_response_id: string };
    expect(upstreamSecond.previous_response_id).toBe(relayOf(firstStatus).upstream_id);
  });

  it("runs a tool round trip with bindTools: tool call, ToolMessage, final answer", async () => {
    const getWeather = tool(async ({ city }) => JSON.stringify({ city, temp_c: 18 }), {
      name: "get_weather",
      description: "The current weather in a city.",
      schema: z.object({ city: z.string() }),
    });
    const withTools = chat.bindTools([getWeather]);
    const question = new HumanMessage("What is the weather in Paris?");
    const asked = (await driven(relay, withTools.invoke([question]))) as AIMessage;
    expect(asked.tool_calls?.map((call) => call.name)).toEqual(["get_weather"]);
    const call = asked.tool_calls![0]!;
    const result = new ToolMessage({
      content: await getWeather.invoke(call.args as { city: string }),
      tool_call_id: call.id!,
    });
    const answer = await driven(relay, withTools.invoke([question, asked, result]));
    expect(answer.tool_calls ?? []).toEqual([]);
    expect(answer.text.length).toBeGreaterThan(0);
  });
});
