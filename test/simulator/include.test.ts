import type { ResponseReasoningItem } from "openai/resources/responses/responses";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { caught, collect, type SimHarness, startHarness } from "./helpers.ts";

describe("simulator: include and reasoning items", () => {
  let h: SimHarness;
  beforeEach(async () => {
    h = await startHarness({ behaviour: { queuedMs: 0, runMs: 0, outputBytes: 80 } });
  });
  afterEach(() => h.sim.close());

  it("puts encrypted_content on the reasoning item only when include asks for it", async () => {
    const reasoning = { effort: "low" } as const;
    const plain = await h.client.responses.create({ model: "o4-mini", input: "think", reasoning });
    const included = await h.client.responses.create({
      model: "o4-mini",
      input: "think",
      reasoning,
      store: false,
      include: ["reasoning.encrypted_content"],
    });
    for (const response of [plain, included]) {
      expect(response.output.map((item) => item.type)).toEqual(["reasoning", "message"]);
      expect(response.output[0]?.id).toMatch(/^rs_/);
      expect(response.output_text.length).toBe(80);
    }
    expect(plain.output[0]).not.toHaveProperty("encrypted_content");
    expect((included.output[0] as ResponseReasoningItem).encrypted_content).toMatch(/^gAAAA/);
    expect(included.reasoning).toMatchObject({ effort: "low" });
    // A model without reasoning never gets the item.
    const gpt4 = await h.client.responses.create({ model: "gpt-4.1", input: "think", reasoning });
    expect(gpt4.output.map((item) => item.type)).toEqual(["message"]);
  });

  it("streams the reasoning item at output_index 0 and the answer at 1", async () => {
    h.sim.configure({ queuedMs: 100, runMs: 400 });
    const stream = h.client.responses.stream({
      model: "gpt-5",
      input: "think",
      background: true,
      include: ["reasoning.encrypted_content"],
    });
    const done = collect(stream);
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 5));
      h.clock.advance(50);
    }
    const { events } = await done;
    const items = events.flatMap((e) =>
      e.type === "response.output_item.added" || e.type === "response.output_item.done"
        ? [`${e.type.split(".").pop()}:${e.output_index}:${e.item.type}`]
        : [],
    );
    expect(items).toEqual(["added:0:reasoning", "done:0:reasoning", "added:1:message", "done:1:message"]);
    expect(events.find((e) => e.type === "response.output_text.delta")).toMatchObject({ output_index: 1 });
    const final = await stream.finalResponse();
    expect(final.output.map((item) => item.type)).toEqual(["reasoning", "message"]);
    expect(final.output_text.length).toBe(80);
  });

  it("accepts include on retrieve and refuses values OpenAI does not know", async () => {
    const { id } = await h.client.responses.create({ model: "gpt-4.1", input: "x" });
    const again = await h.client.responses.retrieve(id, { include: ["message.output_text.logprobs"] });
    expect(again.id).toBe(id);
    const err = await caught(
      h.client.responses.create({
        model: "gpt-4.1",
        input: "x",
        include: ["reasoning.secret" as "reasoning.encrypted_content"],
      }),
    );
    expect(err).toMatchObject({ status: 400, param: "include[0]", code: "invalid_value" });
    expect((err as Error).message).toContain("Supported values are: 'file_search_call.results'");
    const onRetrieve = await caught(
      h.client.responses.retrieve(id, { include: ["nope" as "reasoning.encrypted_content"] }),
    );
    expect(onRetrieve).toMatchObject({ status: 400, param: "include[0]" });
  });
});
