/**
 * Three upstreams at once, routed by model: an OpenAI-like one with background mode, an
 * Ollama-like `/v1/responses` without it, and a chat-only server. Each job must reach its own
 * upstream, and every one must look like an OpenAI job to the caller.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";

let relay: RelayHarness;
let client: OpenAI;
beforeAll(async () => {
  relay = await startRelay({
    env: { SIM_KEY: "sk-simulator" },
    behaviour: { queuedMs: 1000, runMs: 20_000, outputBytes: 900 },
    upstreams: {
      sims: {
        ollama: { flavour: "ollama", behaviour: { runMs: 90_000, outputBytes: 1200 } },
        llamacpp: { flavour: "chat", behaviour: { runMs: 120_000, outputBytes: 1500 } },
      },
      config: (urls) => ({
        upstreams: {
          openai: { baseUrl: urls.main, background: true, key: { env: "SIM_KEY" } },
          ollama: { baseUrl: urls.ollama, background: false, key: { header: "none" } },
          llamacpp: { baseUrl: urls.llamacpp, api: "chat_completions", background: false, key: { header: "none" } },
        },
        models: [
          { model: "gpt-5-pro", upstream: "openai" },
          { model: "llama3.1:8b", upstream: "ollama", inputPerM: 0, outputPerM: 0 },
          { prefix: "qwen", upstream: "llamacpp" },
        ],
      }),
    },
  });
  client = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: relay.apiKey, maxRetries: 0 });
});
afterAll(() => relay.close());

// Minutes of injected time in real seconds; a loaded 2-core machine needs headroom.
describe("three upstreams, routed by model", { timeout: 180_000 }, () => {
  it("sends each job to its own upstream and ends all three as OpenAI jobs end", async () => {
    const models = ["gpt-5-pro", "llama3.1:8b", "qwen2.5-coder:32b"];
    const submitted = await Promise.all(
      models.map((model) => client.responses.create({ model, input: `Hello from ${model}`, background: true })),
    );
    expect(submitted.map((r) => r.status)).toEqual(["queued", "queued", "queued"]);
    for (const { id } of submitted) await relay.settle(id, { stepMs: 2_000, maxSteps: 400 });
    const done = await Promise.all(submitted.map(({ id }) => client.responses.retrieve(id)));
    expect(done.map((r) => r.status)).toEqual(["completed", "completed", "completed"]);
    expect(done.map((r) => r.output_text.length)).toEqual([900, 1200, 1500]);
    expect(done.map((r) => r.model)).toEqual(models);

    // Each upstream saw exactly its own request, and nothing else.
    expect(relay.sim.stats().ops.create).toBe(1);
    expect(relay.sims.ollama!.stats().ops).toMatchObject({ create: 1, chat: 0, retrieve: 0 });
    expect(relay.sims.llamacpp!.stats().ops).toMatchObject({ chat: 1, create: 0 });

    const raw = await Promise.all(submitted.map(({ id }) => relay.call("GET", `/v1/responses/${id}`)));
    expect(raw[0]!.body.relay.upstream_id).toMatch(/^resp_/); // the primary upstream's ids stay bare
    expect(raw[1]!.body.relay.upstream_id).toBe(`ollama:${submitted[1]!.id}`);
    expect(raw[2]!.body.relay.upstream_id).toBe(`llamacpp:${submitted[2]!.id}`);
    expect(raw[1]!.body.relay.cost_usd).toBe(0); // priced at zero in the upstreams file
    expect(raw[2]!.body.relay.cost_usd).toBeNull(); // no price known: no cost, as for OpenAI
    // The Ollama-like server answers store:false and no metadata; the caller sees its own values.
    expect(done[1]).toMatchObject({ background: true, store: true, metadata: {} });
  });

  it("streams a blocking create from the Ollama-like upstream through the official SDK", async () => {
    const stream = client.responses.stream({ model: "llama3.1:8b", input: "Stream to me." });
    const reading = stream.finalResponse();
    const id = await new Promise<string>((resolve) => stream.on("response.created", (e) => resolve(e.response.id)));
    await relay.settle(id, { stepMs: 2_000, maxSteps: 200 });
    const final = await reading;
    expect(final.status).toBe("completed");
    expect(final.id).toBe(id);
    expect(final.output_text).toHaveLength(1200);
  });

  it("refuses a model no upstream serves, before anything is stored", async () => {
    const relayOnly = await relay.call("POST", "/v1/responses", { model: "mystery-7b", input: "hi", background: true });
    expect(relayOnly.status).toBe(400);
    expect(relayOnly.body.error).toMatchObject({ param: "model", code: "model_not_found" });
    const list = await relay.call("GET", "/v1/responses?limit=100");
    expect(list.body.data.map((r: any) => r.model)).not.toContain("mystery-7b");
  });

  it("refuses what a server without stored state cannot continue", async () => {
    const first = await client.responses.create({ model: "qwen2.5-coder:32b", input: "one", background: true });
    await relay.settle(first.id, { stepMs: 2_000, maxSteps: 200 });
    const chained = await relay.call("POST", "/v1/responses", {
      model: "qwen2.5-coder:32b",
      input: "two",
      previous_response_id: first.id,
      background: true,
    });
    expect(chained.status).toBe(400);
    expect(chained.body.error.param).toBe("previous_response_id");
    const tool = await relay.call("POST", "/v1/responses", {
      model: "qwen2.5-coder:32b",
      input: "search",
      tools: [{ type: "web_search" }],
      background: true,
    });
    expect(tool.status).toBe(400);
    expect(tool.body.error.message).toMatch(/web_search/);
  });
});
