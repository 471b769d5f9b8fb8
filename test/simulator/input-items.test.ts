import OpenAI from "openai";
import type { ResponseInputItem } from "openai/resources/responses/responses";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { caught, jsonOf, type SimHarness, startHarness } from "./helpers.ts";

const fiveMessages: ResponseInputItem[] = ["one", "two", "three", "four", "five"].map((text) => ({
  role: "user",
  content: text,
}));

describe("simulator: input items and input token counts", () => {
  let h: SimHarness;
  beforeEach(async () => {
    h = await startHarness({ behaviour: { queuedMs: 0, runMs: 0 } });
  });
  afterEach(() => h.sim.close());

  it("lists a string input as one user message with input_text content", async () => {
    const { id } = await h.client.responses.create({ model: "gpt-4.1", input: "Tell me a story." });
    const res = await fetch(`${h.sim.url}/responses/${id}/input_items`, { headers: { authorization: "Bearer x" } });
    const body = await jsonOf(res);
    expect(body).toEqual({
      object: "list",
      data: [
        {
          id: expect.stringMatching(/^msg_/),
          type: "message",
          role: "user",
          content: [{ type: "input_text", text: "Tell me a story." }],
          status: "completed",
        },
      ],
      first_id: body.data[0].id,
      last_id: body.data[0].id,
      has_more: false,
    });
  });

  it("pages newest first by default, oldest first with order=asc, and the SDK walks every page", async () => {
    const { id } = await h.client.responses.create({ model: "gpt-4.1", input: fiveMessages });
    const texts = (items: Array<{ type: string }>) =>
      items.map((item) => (item as unknown as { content: Array<{ text: string }> }).content[0]!.text);

    const first = await h.client.responses.inputItems.list(id, { limit: 2 });
    expect(texts(first.data)).toEqual(["five", "four"]);
    expect(first.has_more).toBe(true);
    const raw = await jsonOf(await fetch(`${h.sim.url}/responses/${id}/input_items?limit=2`));
    expect(raw).toMatchObject({ first_id: first.data[0]!.id, last_id: first.data[1]!.id, has_more: true });
    const next = await h.client.responses.inputItems.list(id, { limit: 2, after: first.data[1]!.id });
    expect(texts(next.data)).toEqual(["three", "two"]);

    const all: string[] = [];
    for await (const item of h.client.responses.inputItems.list(id, { limit: 2, order: "asc" }))
      all.push(...texts([item]));
    expect(all).toEqual(["one", "two", "three", "four", "five"]);
    // The same ids on every read: they were assigned once, at creation.
    const again = await h.client.responses.inputItems.list(id, { limit: 2 });
    expect(again.data.map((i) => i.id)).toEqual(first.data.map((i) => i.id));
  });

  it("keeps function_call_output items with their call and accepts include", async () => {
    const first = await h.client.responses.create({
      model: "gpt-4.1",
      input: "lookup",
      tools: [{ type: "function", name: "lookup", parameters: { type: "object", properties: {} }, strict: true }],
    });
    const call = first.output[0] as { call_id: string };
    const second = await h.client.responses.create({
      model: "gpt-4.1",
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: call.call_id, output: "42" }],
    });
    const page = await h.client.responses.inputItems.list(second.id, { include: ["message.output_text.logprobs"] });
    expect(page.data).toEqual([
      {
        id: expect.stringMatching(/^fco_/),
        type: "function_call_output",
        call_id: call.call_id,
        output: "42",
        status: "completed",
      },
    ]);
  });

  it("refuses a limit outside 1..100, an unknown order or include value, and an unknown response", async () => {
    const { id } = await h.client.responses.create({ model: "gpt-4.1", input: "x" });
    expect(await caught(h.client.responses.inputItems.list(id, { limit: 101 }))).toMatchObject({
      status: 400,
      param: "limit",
      code: "integer_above_max_value",
    });
    expect(await caught(h.client.responses.inputItems.list(id, { order: "up" as "asc" }))).toMatchObject({
      status: 400,
      param: "order",
    });
    expect(
      await caught(h.client.responses.inputItems.list(id, { include: ["nope" as "reasoning.encrypted_content"] })),
    ).toMatchObject({ status: 400, param: "include[0]", code: "invalid_value" });
    expect(await caught(h.client.responses.inputItems.list("resp_missing"))).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("counts input tokens as usage.input_tokens counts them, chains included", async () => {
    const body = { model: "gpt-4.1", input: "Count these words, please.", instructions: "Be exact." };
    const counted = await h.client.responses.inputTokens.count(body);
    expect(counted).toEqual({ object: "response.input_tokens", input_tokens: expect.any(Number) });
    const created = await h.client.responses.create(body);
    expect(created.usage?.input_tokens).toBe(counted.input_tokens);

    const chained = { model: "gpt-4.1", input: "And now?", previous_response_id: created.id };
    const countedChain = await h.client.responses.inputTokens.count(chained);
    expect(countedChain.input_tokens).toBeGreaterThan(
      (await h.client.responses.inputTokens.count({ input: "And now?" })).input_tokens,
    );
    expect((await h.client.responses.create(chained)).usage?.input_tokens).toBe(countedChain.input_tokens);
  });

  it("validates input token requests as create does", async () => {
    expect(
      await caught(h.client.responses.inputTokens.count({ input: "x", previous_response_id: "resp_gone" })),
    ).toMatchObject({ status: 400, code: "previous_response_not_found" });
    expect(await caught(h.client.responses.inputTokens.count({ input: 42 as unknown as string }))).toMatchObject({
      status: 400,
      param: "input",
      code: "invalid_type",
    });
    expect(
      await caught(
        h.client.responses.inputTokens.count({
          input: [{ type: "function_call_output", call_id: "call_x", output: "1" }],
        }),
      ),
    ).toMatchObject({ status: 400, param: "input" });
    expect(h.sim.stats().ops.input_tokens).toBe(3);
  });
});
