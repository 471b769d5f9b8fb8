import OpenAI from "openai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { caught, type SimHarness, startHarness } from "./helpers.ts";

describe("simulator: conversations", () => {
  let h: SimHarness;
  beforeEach(async () => {
    h = await startHarness({ behaviour: { queuedMs: 0, runMs: 0, outputBytes: 100 } });
  });
  afterEach(() => h.sim.close());

  it("creates, retrieves and deletes a conversation in OpenAI's shape", async () => {
    const conversation = await h.client.conversations.create({ metadata: { topic: "demo" } });
    expect(conversation).toEqual({
      id: expect.stringMatching(/^conv_/),
      object: "conversation",
      created_at: Math.floor(h.clock.now() / 1000),
      metadata: { topic: "demo" },
    });
    expect(await h.client.conversations.retrieve(conversation.id)).toEqual(conversation);
    expect(await h.client.conversations.delete(conversation.id)).toEqual({
      id: conversation.id,
      object: "conversation.deleted",
      deleted: true,
    });
    expect(await caught(h.client.conversations.retrieve(conversation.id))).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("echoes the conversation as {id} and lets later turns read earlier ones", async () => {
    const conversation = await h.client.conversations.create({
      items: [{ type: "message", role: "user", content: "My favourite colour is teal." }],
    });
    const first = await h.client.responses.create({ model: "gpt-4.1", input: "Hello.", conversation: conversation.id });
    expect(first.conversation).toEqual({ id: conversation.id });
    expect(first.output_text).toContain("teal");
    const second = await h.client.responses.create({
      model: "gpt-4.1",
      input: "What did I just say?",
      conversation: { id: conversation.id },
    });
    expect(second.conversation).toEqual({ id: conversation.id });
    expect(second.output_text).toContain('Earlier you said: "Hello."');
  });

  it("refuses an unknown conversation, and a conversation with previous_response_id", async () => {
    const err = await caught(h.client.responses.create({ model: "gpt-4.1", input: "x", conversation: "conv_nope" }));
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err).toMatchObject({ error: { message: "Conversation with id 'conv_nope' not found." } });

    const conversation = await h.client.conversations.create({});
    const earlier = await h.client.responses.create({ model: "gpt-4.1", input: "x" });
    const both = await caught(
      h.client.responses.create({
        model: "gpt-4.1",
        input: "x",
        conversation: conversation.id,
        previous_response_id: earlier.id,
      }),
    );
    expect(both).toBeInstanceOf(OpenAI.BadRequestError);
    expect(both).toMatchObject({ code: "mutually_exclusive_parameters" });
    expect(h.sim.stats().ops.conversation).toBe(1); // the create; responses that name one count as creates
  });
});
