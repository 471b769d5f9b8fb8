import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, stepCountIs, streamText, tool } from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { RelayHarness } from "#test/support/relay.ts";
import { driven, relayOf, startClientRelay } from "./support.ts";

/** The Vercel AI SDK's OpenAI provider on the Responses API, pointed at the relay. */
let relay: RelayHarness;
let provider: ReturnType<typeof createOpenAI>;
beforeAll(async () => {
  relay = await startClientRelay();
  provider = createOpenAI({ baseURL: `${relay.url}/v1`, apiKey: relay.apiKey });
});
afterAll(() => relay.close());

const model = () => provider.responses("gpt-5-pro");
const responseIdOf = (result: { providerMetadata?: Record<string, Record<string, unknown>> }) =>
  result.providerMetadata?.openai?.responseId as string;

describe("Vercel AI SDK (@ai-sdk/openai responses) against the relay", () => {
  it("generateText answers with the finished text", async () => {
    const result = await driven(relay, generateText({ model: model(), prompt: "Say something.", maxRetries: 0 }));
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.finishReason).toBe("stop");
    expect(responseIdOf(result)).toMatch(/^resp_/);
    const status = (await relay.call("GET", `/v1/responses/${responseIdOf(result)}`)).body;
    expect(status.status).toBe("completed");
  });

  it("streamText streams the text to the end", async () => {
    const result = streamText({ model: model(), prompt: "Stream something.", maxRetries: 0 });
    const text = await driven(relay, async () => {
      let all = "";
      for await (const delta of result.textStream) all += delta;
      return all;
    });
    expect(text.length).toBeGreaterThan(0);
    expect(await result.finishReason).toBe("stop");
    expect(await result.text).toBe(text);
  });

  it("generateObject gives an object that fits the schema", async () => {
    const Recipe = z.object({ title: z.string(), minutes: z.number() });
    const result = await driven(
      relay,
      generateObject({ model: model(), schema: Recipe, prompt: "A quick recipe.", maxRetries: 0 }),
    );
    expect(Recipe.safeParse(result.object).success).toBe(true);
  });

  it("chains two turns with providerOptions.openai.previousResponseId", async () => {
    const first = await driven(relay, generateText({ model: model(), prompt: "My name is Ada.", maxRetries: 0 }));
    const second = await driven(
      relay,
      generateText({
        model: model(),
        prompt: "What is my name?",
        providerOptions: { openai: { previousResponseId: responseIdOf(first) } },
        maxRetries: 0,
      }),
    );
    expect(second.text.length).toBeGreaterThan(0);
    const status = (await relay.call("GET", `/v1/responses/${responseIdOf(second)}`)).body;
    expect(status.previous_response_id).toBe(responseIdOf(first));
    const firstStatus = (await relay.call("GET", `/v1/responses/${responseIdOf(first)}`)).body;
    const upstreamSecond = relay.sim.getResponse(relayOf(status).upstream_id!) as { previous_response_id: string };
    expect(upstreamSecond.previous_response_id).toBe(relayOf(firstStatus).upstream_id);
  });

  it("runs a tool round trip: the model calls the tool, gets its result, answers", async () => {
    const calls: string[] = [];
    const result = await driven(
      relay,
      generateText({
        model: model(),
        prompt: "What is the weather in Paris?",
        tools: {
          get_weather: tool({
            description: "The current weather in a city.",
            inputSchema: z.object({ city: z.string() }),
            execute: async ({ city }) => {
              calls.push(city);
              return { city, temp_c: 18 };
            },
          }),
        },
        stopWhen: stepCountIs(4),
        maxRetries: 0,
      }),
    );
    expect(calls).toHaveLength(1);
    expect(result.steps.length).toBeGreaterThanOrEqual(2);
    expect(result.steps[0]!.toolCalls.map((call) => call.toolName)).toEqual(["get_weather"]);
    expect(result.finishReason).toBe("stop");
    expect(result.text.length).toBeGreaterThan(0);
  });
});
