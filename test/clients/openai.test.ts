import OpenAI from "openai";
import { zodTextFormat } from "openai/helpers/zod";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { RelayHarness } from "#test/support/relay.ts";
import { startReceiver, type Receiver } from "#test/support/receiver.ts";
import { driven, relayOf, startClientRelay, WEATHER_TOOL } from "./support.ts";

/** The official `openai` SDK, written as for OpenAI, pointed at the relay. */
let relay: RelayHarness;
let client: OpenAI;
let receiver: Receiver;
let secret: string;
beforeAll(async () => {
  relay = await startClientRelay();
  client = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: relay.apiKey });
  secret = (await relay.deps.tenants.getTenant(relay.tenant.id))!.webhookSecrets[0]!;
  receiver = await startReceiver(secret);
});
afterAll(async () => {
  await receiver.close();
  await relay.close();
});

const MODEL = "gpt-5-pro";

describe("openai SDK against the relay", () => {
  it("responses.create() without background answers the finished Response, from one upstream create", async () => {
    const createsBefore = relay.sim.stats().createdIds.length;
    const response = await driven(relay, client.responses.create({ model: MODEL, input: "Say something finished." }));
    expect(response.status).toBe("completed");
    expect(response.output_text.length).toBeGreaterThan(0);
    expect(response.usage?.output_tokens).toBeGreaterThan(0);
    expect(relay.sim.stats().createdIds.length).toBe(createsBefore + 1);
    const again = await client.responses.retrieve(response.id);
    expect(again.output_text).toBe(response.output_text);
  });

  it("streams a create (stream: true) to response.completed, and the status agrees at once", async () => {
    const stream = await client.responses.create({ model: MODEL, input: "Stream it.", stream: true });
    const events = await driven(relay, async () => {
      const seen: ResponseStreamEvent[] = [];
      for await (const event of stream) seen.push(event);
      return seen;
    });
    expect(events[0]!.type).toBe("response.created");
    const last = events.at(-1)!;
    expect(last.type).toBe("response.completed");
    const text = events.map((e) => (e.type === "response.output_text.delta" ? e.delta : "")).join("");
    expect(text.length).toBeGreaterThan(0);
    const id = (last as Extract<ResponseStreamEvent, { type: "response.completed" }>).response.id;
    const status = await client.responses.retrieve(id);
    expect(status.status).toBe("completed");
    expect(status.output_text).toBe(text);
  });

  it("responses.stream() helper: finalResponse() is the completed Response", async () => {
    const final = await driven(
      relay,
      client.responses.stream({ model: MODEL, input: "Helper stream." }).finalResponse(),
    );
    expect(final.status).toBe("completed");
    expect(final.output_text.length).toBeGreaterThan(0);
  });

  it("background: true then retrieve until it ends", async () => {
    const created = await client.responses.create({ model: MODEL, input: "In the background.", background: true });
    expect(created.status).toBe("queued");
    expect(created.background).toBe(true);
    const final = await driven(relay, async () => {
      for (;;) {
        const current = await client.responses.retrieve(created.id);
        if (current.status !== "queued" && current.status !== "in_progress") return current;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    expect(final.status).toBe("completed");
    expect(final.output_text.length).toBeGreaterThan(0);
  });

  it("responses.parse() with zodTextFormat gives output_parsed that fits the schema", async () => {
    const Person = z.object({ name: z.string(), age: z.number() });
    const parsed = await driven(
      relay,
      client.responses.parse({
        model: MODEL,
        input: "Invent a person.",
        text: { format: zodTextFormat(Person, "person") },
      }),
    );
    expect(parsed.status).toBe("completed");
    expect(Person.safeParse(parsed.output_parsed).success).toBe(true);
  });

  it("chains two turns with previous_response_id naming the relay's job", async () => {
    const first = await driven(relay, client.responses.create({ model: MODEL, input: "My name is Ada." }));
    const second = await driven(
      relay,
      client.responses.create({ model: MODEL, input: "What is my name?", previous_response_id: first.id }),
    );
    expect(second.status).toBe("completed");
    expect(second.previous_response_id).toBe(first.id);
    // The upstream continued from the upstream response of the first turn.
    const upstreamSecond = relay.sim.getResponse(relayOf(second).upstream_id!) as { previous_response_id: string };
    expect(upstreamSecond.previous_response_id).toBe(relayOf(first).upstream_id);
    expect(JSON.stringify(second)).not.toContain(relayOf(first).upstream_id!.slice(5));
  });

  it("runs a function-calling round trip: tool call, tool result, final answer", async () => {
    const first = await driven(
      relay,
      client.responses.create({ model: MODEL, input: "What is the weather in Paris?", tools: [WEATHER_TOOL] }),
    );
    const call = first.output.find((item) => item.type === "function_call");
    expect(call).toMatchObject({ type: "function_call", name: "get_weather", call_id: expect.any(String) });
    const args = JSON.parse((call as { arguments: string }).arguments);
    expect(typeof args.city).toBe("string");
    const second = await driven(
      relay,
      client.responses.create({
        model: MODEL,
        previous_response_id: first.id,
        tools: [WEATHER_TOOL],
        input: [
          { type: "function_call_output", call_id: (call as { call_id: string }).call_id, output: '{"temp_c": 18}' },
        ],
      }),
    );
    expect(second.status).toBe("completed");
    expect(second.output.some((item) => item.type === "function_call")).toBe(false);
    expect(second.output_text.length).toBeGreaterThan(0);
  });

  it("cancels a background job; the stream helper then reports it cancelled", async () => {
    const created = await client.responses.create({
      model: MODEL,
      input: "A long one.",
      background: true,
      metadata: { sim_run_ms: "600000" },
    });
    const cancelled = await client.responses.cancel(created.id);
    expect(cancelled.status).toBe("cancelled");
    const final = await driven(relay, client.responses.stream({ response_id: created.id }).finalResponse());
    expect(final.status).toBe("cancelled");
  });

  it("deletes a response; retrieving it afterwards is a NotFoundError", async () => {
    const response = await driven(relay, client.responses.create({ model: MODEL, input: "Delete me." }));
    await client.responses.delete(response.id);
    await expect(client.responses.retrieve(response.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.responses.delete(response.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("lists input items with the SDK's paginator", async () => {
    const response = await driven(
      relay,
      client.responses.create({
        model: MODEL,
        input: [
          { role: "user", content: "One." },
          { role: "user", content: "Two." },
        ],
      }),
    );
    const texts: string[] = [];
    for await (const item of client.responses.inputItems.list(response.id, { order: "asc", limit: 1 })) {
      expect(item.type).toBe("message");
      texts.push(((item as { content: { text: string }[] }).content ?? []).map((part) => part.text).join(""));
    }
    expect(texts).toEqual(["One.", "Two."]);
  });

  it("counts input tokens", async () => {
    const count = await client.responses.inputTokens.count({ model: MODEL, input: "How many tokens is this?" });
    expect(count.object).toBe("response.input_tokens");
    expect(count.input_tokens).toBeGreaterThan(0);
  });

  it("client.webhooks.unwrap() reads the webhook the relay sent", async () => {
    const created = await client.responses.create({
      model: MODEL,
      input: "Tell me when done.",
      background: true,
      webhook: { url: receiver.url },
    } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    await driven(relay, async () => {
      while (!receiver.received.some((r) => JSON.parse(r.body).data.id === created.id))
        await new Promise((resolve) => setTimeout(resolve, 20));
    });
    const delivery = receiver.received.find((r) => JSON.parse(r.body).data.id === created.id)!;
    const event = await client.webhooks.unwrap(delivery.body, delivery.headers as Record<string, string>, secret);
    expect(event.type).toBe("response.completed");
    if (event.type !== "response.completed") return;
    expect(event.data.id).toBe(created.id);
    const final = await client.responses.retrieve(event.data.id);
    expect(final.status).toBe("completed");
  });
});
