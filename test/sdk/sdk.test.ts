import OpenAI from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { driveUntil, openStream, range } from "#test/streaming/support.ts";

/** The official SDK pointed at the relay, exactly as a user would. */
let relay: RelayHarness;
let client: OpenAI;
beforeAll(async () => {
  // Small outputs: the SDK's SSE reader re-copies its buffer per chunk.
  relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 4000, outputBytes: 700 } });
  client = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: relay.apiKey, maxRetries: 0 });
});
afterAll(() => relay.close());

/** Iterates an SDK stream to its end while the shared clock moves. */
async function drain(stream: AsyncIterable<ResponseStreamEvent>): Promise<ResponseStreamEvent[]> {
  const events: ResponseStreamEvent[] = [];
  let done = false;
  const reading = (async () => {
    try {
      for await (const event of stream) events.push(event);
    } finally {
      done = true;
    }
  })();
  await driveUntil(relay, () => done, { stepMs: 250 });
  await reading;
  return events;
}

const seqsOf = (events: ResponseStreamEvent[]) => events.map((e) => e.sequence_number);
const textOf = (events: ResponseStreamEvent[]) =>
  events.map((e) => (e.type === "response.output_text.delta" ? e.delta : "")).join("");

describe("the official openai SDK as a client of the relay", () => {
  it("responses.create({ background: true }) then responses.retrieve(id) until it completes", async () => {
    const created = await client.responses.create({
      model: "gpt-5-pro",
      input: "Write about rivers.",
      background: true,
      metadata: { ticket: "SDK-1" },
    });
    expect(created.id).toMatch(/^resp_/);
    expect(created.status).toBe("queued");
    expect(created.metadata).toEqual({ ticket: "SDK-1" });
    let current = created;
    await driveUntil(relay, async () => {
      current = await client.responses.retrieve(created.id);
      return current.status === "completed";
    });
    expect(current.id).toBe(created.id);
    const upstreamId = (current as unknown as { relay: { upstream_id: string } }).relay.upstream_id;
    expect(upstreamId).not.toBe(created.id);
    const upstream = relay.sim.getResponse(upstreamId) as any;
    expect(current.output_text).toBe(upstream.output[0].content[0].text);
    expect(current.usage).toEqual(upstream.usage);
  });

  it("responses.create({ background: true, stream: true }): the relay's job streamed live", async () => {
    const stream = await client.responses.create({
      model: "gpt-5-pro",
      input: "Stream about lakes.",
      background: true,
      stream: true,
    });
    const events = await drain(stream);
    expect(events[0]!.type).toBe("response.created");
    const id = (events[0] as Extract<ResponseStreamEvent, { type: "response.created" }>).response.id;
    expect(seqsOf(events)).toEqual(range(0, events.length));
    const completed = events.at(-1) as Extract<ResponseStreamEvent, { type: "response.completed" }>;
    expect(completed.type).toBe("response.completed");
    expect(completed.response.id).toBe(id);

    const final = await client.responses.retrieve(id);
    expect(final.status).toBe("completed");
    expect(textOf(events)).toBe(final.output_text);
    expect(completed.response.output).toEqual(final.output);
    // The SDK skipped the relay's `id:` lines and status comments: exactly the raw stream's events.
    const raw = await openStream(relay, `/v1/responses/${id}?stream=true`);
    await raw.done;
    expect(raw.statuses.length).toBeGreaterThan(0);
    expect(events).toEqual(raw.events);
  });

  it("responses.retrieve(id, { stream: true, starting_after }) resumes after that number, hours later too", async () => {
    const created = await client.responses.create({
      model: "gpt-5-pro",
      input: "Resume about seas.",
      background: true,
      metadata: { sim_stream_cut_after: "5" },
    });
    const whole = await drain(await client.responses.retrieve(created.id, { stream: true }));
    expect(whole.at(-1)!.type).toBe("response.completed");
    expect(seqsOf(whole)).toEqual(range(0, whole.length));

    relay.clock.advance(6 * 3600_000);
    const rest = await drain(await client.responses.retrieve(created.id, { stream: true, starting_after: 6 }));
    expect(rest).toEqual(whole.slice(7));

    // The SDK's own helper for background streams (it filters the full replay itself).
    const helper = client.responses.stream({ response_id: created.id, starting_after: 6 });
    const seen: ResponseStreamEvent[] = [];
    for await (const event of helper) seen.push(event);
    expect(seen).toEqual(whole.slice(7));
    const final = await helper.finalResponse();
    expect(final.id).toBe(created.id);
    expect(final.output_text).toBe(textOf(whole));
  });

  it("responses.cancel(id) cancels a running job, and again returns the same", async () => {
    const created = await client.responses.create({
      model: "gpt-5-pro",
      input: "A long one.",
      background: true,
      metadata: { sim_run_ms: "600000" },
    });
    await driveUntil(relay, async () => (await client.responses.retrieve(created.id)).status === "in_progress");
    const cancelled = await client.responses.cancel(created.id);
    expect(cancelled.id).toBe(created.id);
    expect(cancelled.status).toBe("cancelled");
    expect((await client.responses.cancel(created.id)).status).toBe("cancelled");
    expect((await client.responses.retrieve(created.id)).status).toBe("cancelled");
  });

  it("raises APIError subclasses with OpenAI's status, type and message", async () => {
    const stranger = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: "rr_not-a-real-key-1234", maxRetries: 0 });
    const unauthorised = await stranger.responses.retrieve("resp_abc").catch((e: unknown) => e);
    expect(unauthorised).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(unauthorised).toMatchObject({
      status: 401,
      code: "invalid_api_key",
      message: expect.stringContaining("Incorrect API key provided: ...1234"),
    });

    const missing = await client.responses.retrieve("resp_doesnotexist").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect(missing).toMatchObject({
      status: 404,
      message: expect.stringContaining("Response with id 'resp_doesnotexist' not found."),
    });

    const missingStream = await client.responses
      .retrieve("resp_doesnotexist", { stream: true })
      .catch((e: unknown) => e);
    expect(missingStream).toBeInstanceOf(OpenAI.NotFoundError);

    const badCancel = await client.responses.cancel("resp_doesnotexist").catch((e: unknown) => e);
    expect(badCancel).toBeInstanceOf(OpenAI.NotFoundError);

    const invalid = await client.responses
      .create({ model: "gpt-5-pro", input: "x", background: true, max_output_tokens: 3 })
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(OpenAI.BadRequestError);
    expect(invalid).toMatchObject({
      status: 400,
      type: "invalid_request_error",
      param: "max_output_tokens",
      message: expect.stringContaining("max_output_tokens"),
    });

    const invalidStream = await client.responses
      .create({
        model: "gpt-5-pro",
        input: "x",
        background: true,
        stream: true,
        // One pair more than OpenAI allows.
        metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])),
      })
      .catch((e: unknown) => e);
    expect(invalidStream).toBeInstanceOf(OpenAI.BadRequestError);
    expect(invalidStream).toMatchObject({ status: 400, param: "metadata" });
  });
});
