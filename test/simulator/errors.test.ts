import { afterEach, beforeEach, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { startSimulator, type Simulator } from "#local/simulator/index.ts";
import { BASE_REQUEST, jsonOf, caught, startHarness, type SimHarness } from "./helpers.ts";

type BadRequest = InstanceType<typeof OpenAI.BadRequestError>;

describe("simulator: request errors", () => {
  let h: SimHarness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.sim.close());

  it("answers unknown ids with 404 and the real message", async () => {
    const err = await caught(h.client.responses.retrieve("resp_doesnotexist"));
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as Error).message).toBe("404 Response with id 'resp_doesnotexist' not found.");
    expect((err as BadRequest).requestID).toMatch(/^req_[0-9a-f]+$/);
  });

  const invalid: Array<[string, Record<string, unknown>, string | null, RegExp]> = [
    ["missing model", { input: "x" }, "model", /Missing required parameter: 'model'/],
    ["non-string model", { model: 5, input: "x" }, "model", /Invalid type for 'model'/],
    ["missing input", { model: "gpt-5-pro" }, "input", /Missing required parameter: 'input'/],
    ["object input", { model: "gpt-5-pro", input: { text: "x" } }, "input", /Invalid type for 'input'/],
    [
      "max_output_tokens below 16",
      { model: "gpt-5-pro", input: "x", max_output_tokens: 15 },
      "max_output_tokens",
      /Expected a value >= 16, but got 15/,
    ],
    [
      "17 metadata pairs",
      {
        model: "gpt-5-pro",
        input: "x",
        metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])),
      },
      "metadata",
      /at most 16 properties/,
    ],
    [
      "metadata key of 65 chars",
      { model: "gpt-5-pro", input: "x", metadata: { ["k".repeat(65)]: "v" } },
      "metadata",
      /maximum length 64/,
    ],
    [
      "metadata value of 513 chars",
      { model: "gpt-5-pro", input: "x", metadata: { k: "v".repeat(513) } },
      "metadata.k",
      /maximum length 512/,
    ],
    [
      "non-string metadata value",
      { model: "gpt-5-pro", input: "x", metadata: { k: 1 } },
      "metadata.k",
      /expected a string/,
    ],
    ["background without store", { ...BASE_REQUEST, store: false }, "store", /store/],
    [
      "unknown sim_outcome",
      { ...BASE_REQUEST, metadata: { sim_outcome: "exploded" } },
      "metadata.sim_outcome",
      /sim_outcome/,
    ],
    [
      "bad sim_run_ms",
      { ...BASE_REQUEST, metadata: { sim_run_ms: "-5" } },
      "metadata.sim_run_ms",
      /non-negative integer/,
    ],
    [
      "unknown previous_response_id",
      { ...BASE_REQUEST, previous_response_id: "resp_gone" },
      "previous_response_id",
      /Previous response with id 'resp_gone' not found/,
    ],
  ];

  it.each(invalid)("rejects %s with a 400 invalid_request_error", async (_name, body, param, message) => {
    const err = await caught(h.client.responses.create(body as never));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as BadRequest).type).toBe("invalid_request_error");
    expect((err as BadRequest).param).toBe(param);
    expect((err as Error).message).toMatch(message);
    expect(h.sim.stats().createdIds).toEqual([]);
  });

  it("accepts exactly 16 metadata pairs and the edge lengths", async () => {
    const metadata = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, "v".repeat(512)]));
    metadata["k".repeat(64)] = "v";
    const r = await h.client.responses.create({ ...BASE_REQUEST, metadata, max_output_tokens: 16 });
    expect(Object.keys(r.metadata ?? {})).toHaveLength(16);
  });

  it("accepts a previous_response_id that exists and echoes it", async () => {
    const first = await h.client.responses.create(BASE_REQUEST);
    const second = await h.client.responses.create({ ...BASE_REQUEST, previous_response_id: first.id });
    expect(second.previous_response_id).toBe(first.id);
  });

  it("rejects a body that is not JSON", async () => {
    const res = await fetch(`${h.sim.url}/responses`, {
      method: "POST",
      body: "{nope",
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(400);
    const body = await jsonOf(res);
    expect(body.error).toMatchObject({
      type: "invalid_request_error",
      message: expect.stringContaining("could not parse the JSON body"),
    });
  });

  it("answers unknown routes with an OpenAI-shaped 404", async () => {
    const res = await fetch(`${h.sim.origin}/v1/chat/completions`, { method: "POST", body: "{}" });
    expect(res.status).toBe(404);
    expect((await jsonOf(res)).error.message).toBe("Invalid URL (POST /v1/chat/completions)");
  });
});

describe("simulator: API key", () => {
  let sim: Simulator;
  beforeEach(async () => {
    sim = await startSimulator({ apiKey: "sk-right-key-123" });
  });
  afterEach(() => sim.close());

  it("accepts the configured key and answers a wrong one with 401 invalid_api_key", async () => {
    const good = new OpenAI({ baseURL: sim.url, apiKey: "sk-right-key-123", maxRetries: 0 });
    expect((await good.responses.create(BASE_REQUEST)).status).toBe("queued");

    const bad = new OpenAI({ baseURL: sim.url, apiKey: "sk-wrong-key-456", maxRetries: 0 });
    const err = await caught(bad.responses.create(BASE_REQUEST));
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as BadRequest).code).toBe("invalid_api_key");
    expect((err as Error).message).toMatch(/^401 Incorrect API key provided: sk-w\*\*\*-456/);
    expect(sim.stats().createdIds).toHaveLength(1);
  });

  it("answers a request without a key with 401", async () => {
    const res = await fetch(`${sim.url}/responses/resp_x`);
    expect(res.status).toBe(401);
    expect((await jsonOf(res)).error.message).toMatch(/You didn't provide an API key/);
  });
});
