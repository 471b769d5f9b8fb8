import { afterEach, beforeEach, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { ManualClock } from "#shared/clock.ts";
import { startSimulator, type Simulator } from "#local/simulator/index.ts";
import { BASE_REQUEST, caught, collect } from "./helpers.ts";

describe("simulator: Azure mode", () => {
  const key = "azure-key-0123456789";
  let sim: Simulator;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock();
    sim = await startSimulator({ azure: true, apiKey: key, clock, behaviour: { queuedMs: 0, runMs: 1000 } });
  });
  afterEach(() => sim.close());

  it("serves the API under /openai/v1 with the key in an api-key header", async () => {
    expect(sim.url).toBe(`${sim.origin}/openai/v1`);
    // apiKey is sent as a bearer token too; the simulator, like Azure, authenticates on api-key.
    const client = new OpenAI({
      baseURL: sim.url,
      apiKey: "unused",
      defaultHeaders: { "api-key": key },
      maxRetries: 0,
    });
    const created = await client.responses.create(BASE_REQUEST);
    expect(created.status).toBe("in_progress");
    clock.advance(1000);
    expect((await client.responses.retrieve(created.id)).status).toBe("completed");
    const { events } = await collect(await client.responses.retrieve(created.id, { stream: true, starting_after: 0 }));
    expect(events[0]?.sequence_number).toBe(1);
    expect(events.at(-1)?.type).toBe("response.completed");
  });

  it("also accepts the key as a bearer token, as Microsoft's samples send it", async () => {
    const client = new OpenAI({ baseURL: sim.url, apiKey: key, maxRetries: 0 });
    expect((await client.responses.create(BASE_REQUEST)).id).toMatch(/^resp_/);
  });

  it("answers a wrong api-key with Azure's 401", async () => {
    const client = new OpenAI({
      baseURL: sim.url,
      apiKey: "unused",
      defaultHeaders: { "api-key": "wrong" },
      maxRetries: 0,
    });
    const err = await caught(client.responses.create(BASE_REQUEST));
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as Error).message).toMatch(/^401 Access denied due to invalid subscription key/);
  });

  it("has no /v1 route (a doubled or missing /openai prefix is a 404)", async () => {
    for (const path of ["/v1/responses", "/openai/v1/v1/responses"]) {
      const res = await fetch(`${sim.origin}${path}`, { method: "POST", headers: { "api-key": key }, body: "{}" });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: { code: "404", message: "Resource not found" } });
    }
  });
});
