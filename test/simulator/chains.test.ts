import OpenAI from "openai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { caught, type SimHarness, startHarness } from "./helpers.ts";

describe("simulator: stored responses and previous_response_id", () => {
  let h: SimHarness;
  beforeEach(async () => {
    h = await startHarness({ behaviour: { queuedMs: 0, runMs: 0, outputBytes: 200 } });
  });
  afterEach(() => h.sim.close());

  it("answers a second turn from the first: the reply names what the user said before", async () => {
    const first = await h.client.responses.create({ model: "gpt-4.1", input: "My name is Ada Lovelace." });
    const second = await h.client.responses.create({
      model: "gpt-4.1",
      input: "What is my name?",
      previous_response_id: first.id,
    });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text).toContain('Earlier you said: "My name is Ada Lovelace."');
    expect(first.output_text).not.toContain("Earlier you said");
    // The model read the first turn, so the second costs more input than the same question alone.
    const alone = await h.client.responses.create({ model: "gpt-4.1", input: "What is my name?" });
    expect(second.usage?.input_tokens).toBeGreaterThan(alone.usage?.input_tokens ?? Infinity);
  });

  it("refuses an unknown previous response with OpenAI's 400", async () => {
    const err = await caught(
      h.client.responses.create({ model: "gpt-4.1", input: "hi", previous_response_id: "resp_nope" }),
    );
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({
      status: 400,
      code: "previous_response_not_found",
      param: "previous_response_id",
      type: "invalid_request_error",
      error: { message: "Previous response with id 'resp_nope' not found." },
    });
  });

  it("does not find a response created with store: false, nor a deleted one", async () => {
    const unstored = await h.client.responses.create({ model: "gpt-4.1", input: "hi", store: false });
    expect(unstored).toHaveProperty("store", false);
    const stored = await h.client.responses.create({ model: "gpt-4.1", input: "hi" });
    await h.client.responses.delete(stored.id);
    for (const id of [unstored.id, stored.id]) {
      const err = await caught(
        h.client.responses.create({ model: "gpt-4.1", input: "again", previous_response_id: id }),
      );
      expect(err).toMatchObject({ status: 400, code: "previous_response_not_found" });
    }
    expect(await caught(h.client.responses.retrieve(stored.id))).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("chains a background response and keeps reading turns further back", async () => {
    const one = await h.client.responses.create({
      model: "gpt-5",
      input: "Remember the word quokka.",
      background: true,
    });
    h.clock.advance(1);
    const two = await h.client.responses.create({ model: "gpt-5", input: "Noted?", previous_response_id: one.id });
    const three = await h.client.responses.create({ model: "gpt-5", input: "Go on.", previous_response_id: two.id });
    expect(two.output_text).toContain("quokka");
    expect(three.output_text).toContain('Earlier you said: "Noted?"');
    expect(three.usage?.input_tokens).toBeGreaterThan(two.usage?.input_tokens ?? Infinity);
  });
});
