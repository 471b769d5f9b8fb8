/**
 * The simulator's servers without background mode, read by the official SDK: what the relay's
 * emulated background is built against (docs/upstream-facts.md, "Servers without background mode").
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, type SimHarness, startHarness } from "./helpers.ts";

/** Moves the clock in steps until `done` settles (a held reply waits on the clock). */
async function drive<T>(h: SimHarness, done: Promise<T>, stepMs = 1000): Promise<T> {
  let settled = false;
  void done.finally(() => (settled = true)).catch(() => undefined);
  for (let i = 0; i < 500 && !settled; i++) {
    h.clock.advance(stepMs);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return done;
}

describe("the ollama flavour", () => {
  let h: SimHarness;
  beforeAll(async () => {
    h = await startHarness({ flavour: "ollama", behaviour: { runMs: 30_000, outputBytes: 400 } });
  });
  afterAll(() => h.sim.close());

  it("ignores background: the reply is held to the end and is the finished Response, kept nowhere", async () => {
    const response = await drive(h, h.client.responses.create({ model: "llama3.1", input: "hi", background: true }));
    expect(response.status).toBe("completed");
    expect(response.background).toBe(true);
    expect((response as unknown as { store: boolean }).store).toBe(false);
    expect(response.output_text).toHaveLength(400);
    await expect(h.client.responses.retrieve(response.id)).rejects.toMatchObject({ status: 404 });
    await expect(h.client.responses.cancel(response.id)).rejects.toMatchObject({ status: 404 });
  });

  it("streams a request from response.created to response.completed", async () => {
    const stream = await h.client.responses.create({ model: "llama3.1", input: "hi", stream: true });
    const { events, error } = await drive(h, collect(stream));
    expect(error).toBeUndefined();
    expect(events[0]?.type).toBe("response.created");
    expect(events.at(-1)?.type).toBe("response.completed");
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
  });
});

describe("the chat flavour", () => {
  let h: SimHarness;
  beforeAll(async () => {
    h = await startHarness({ flavour: "chat", behaviour: { runMs: 60_000, outputBytes: 800 } });
  });
  afterAll(() => h.sim.close());

  it("streams chunks on the clock, then the finish reason and usage", async () => {
    const stream = await h.client.chat.completions.create({
      model: "qwen",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: any[] = [];
    await drive(
      h,
      (async () => {
        for await (const chunk of stream) chunks.push(chunk);
      })(),
    );
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    expect(text).toHaveLength(800);
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason).toBe("stop");
    expect(chunks.at(-1).usage).toMatchObject({ completion_tokens: 200 });
  });

  it("stops at max_tokens with finish_reason length, and has no Responses API", async () => {
    const done = await drive(
      h,
      h.client.chat.completions.create({ model: "qwen", messages: [{ role: "user", content: "hi" }], max_tokens: 20 }),
    );
    expect(done.choices[0]).toMatchObject({ finish_reason: "length" });
    expect(done.choices[0]!.message.content).toHaveLength(80);
    await expect(h.client.responses.create({ model: "qwen", input: "hi" })).rejects.toMatchObject({ status: 404 });
  });
});
