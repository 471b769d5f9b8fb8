import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { driveUntil } from "#test/streaming/support.ts";

/**
 * Code written for OpenAI's Responses API, pointed at the relay unchanged: plain (blocking)
 * creates, chains through previous_response_id, the fields OpenAI's schema requires at every
 * status, stream endings the SDK's helpers read truthfully. The official SDK is the client.
 */
let relay: RelayHarness;
let client: OpenAI;
const WAIT_MS = 12_000;
beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 4000, outputBytes: 300 }, localWaitMs: WAIT_MS });
  client = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: relay.apiKey, maxRetries: 0 });
});
afterAll(() => relay.close());

/** Awaits `work` while the shared clock moves (the simulator and the relay run on it). */
async function driven<T>(work: Promise<T>, stepMs = 250): Promise<T> {
  let settled = false;
  const watched = work.finally(() => {
    settled = true;
  });
  await driveUntil(relay, () => settled, { stepMs });
  return watched;
}

const REQUEST_FIELDS = [
  "instructions",
  "tools",
  "parallel_tool_calls",
  "tool_choice",
  "temperature",
  "top_p",
  "metadata",
  "error",
  "incomplete_details",
  "output",
  "model",
  "created_at",
  "object",
] as const;

describe("a plain create (no background) through the relay", () => {
  it("answers with the finished Response, as OpenAI does, while running in background upstream", async () => {
    const response = await driven(client.responses.create({ model: "gpt-5-pro", input: "Say something finished." }));
    expect(response.status).toBe("completed");
    expect(response.output_text.length).toBe(300);
    expect(response.usage?.output_tokens).toBeGreaterThan(0);
    expect(response.background).toBe(false);
    expect(response.id).toMatch(/^resp_/);
    const upstreamId = (response as unknown as { relay: { upstream_id: string } }).relay.upstream_id;
    expect(upstreamId).not.toBe(response.id);
    expect(relay.sim.getResponse(upstreamId)).toMatchObject({ background: true, store: true });
    // The status URL agrees.
    const again = await client.responses.retrieve(response.id);
    expect(again.status).toBe("completed");
    expect(again.output_text).toBe(response.output_text);
  });

  it("past its wait limit: a clear error naming the job, which keeps running; the SDK's retry attaches to it", async () => {
    const creates = relay.sim.stats().ops.create;
    // Time stands still, so the job cannot end while the request waits.
    const res = await relay.call("POST", "/v1/responses", { model: "gpt-5-pro", input: "too slow" });
    expect(res.status).toBe(504);
    expect(res.body.error).toMatchObject({ type: "server_error", code: "response_still_running" });
    const jobId = /resp_[A-Za-z0-9]+/.exec(res.body.error.message)?.[0];
    expect(jobId).toBeDefined();
    expect(res.body.error.message).toContain(`/v1/responses/${jobId}`);
    expect(res.headers.get("location")).toBe(`/v1/responses/${jobId}`);
    expect((await relay.call("GET", `/v1/responses/${jobId}`)).body.status).toBe("queued");

    // What the official SDK sends when it retries that request: the same body, a retry count.
    const retried = relay.call(
      "POST",
      "/v1/responses",
      { model: "gpt-5-pro", input: "too slow" },
      { "x-stainless-retry-count": "1" },
    );
    const answer = await driven(retried);
    expect(answer.status).toBe(200);
    expect(answer.body.id).toBe(jobId);
    expect(answer.body.status).toBe("completed");
    expect(relay.sim.stats().ops.create - creates).toBe(1);
  });

  it("a fresh identical request (not a retry) is a new job, as on OpenAI", async () => {
    const a = await driven(client.responses.create({ model: "gpt-5-pro", input: "twice on purpose" }));
    const b = await driven(client.responses.create({ model: "gpt-5-pro", input: "twice on purpose" }));
    expect(b.id).not.toBe(a.id);
  });
});

describe("ids: the relay's job id is the only one callers see", () => {
  it("chains a second turn with previous_response_id naming the relay's job", async () => {
    const first = await driven(client.responses.create({ model: "gpt-5-pro", input: "Turn one." }));
    const second = await driven(
      client.responses.create({ model: "gpt-5-pro", input: "Turn two.", previous_response_id: first.id }),
    );
    expect(second.status).toBe("completed");
    expect(second.previous_response_id).toBe(first.id);
    // Upstream, the chain runs on the upstream's own ids.
    const upstream = relay.sim.getResponse((second as any).relay.upstream_id) as any;
    expect(upstream.previous_response_id).toBe((first as any).relay.upstream_id);
  });

  it("refuses an unknown or another tenant's id as OpenAI does", async () => {
    const unknown = await client.responses
      .create({ model: "gpt-5-pro", input: "x", previous_response_id: "resp_nope", background: true })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.BadRequestError);
    expect(unknown).toMatchObject({ status: 400, code: "previous_response_not_found", param: "previous_response_id" });
    const stored = relay.sim.stats().ops.create;
    const { createTenant } = await import("#shared/use-cases/manage-keys.ts");
    const other = await createTenant(relay.deps.tenants, { name: "other" });
    const otherClient = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: other.apiKey, maxRetries: 0 });
    const mine = await client.responses.create({ model: "gpt-5-pro", input: "mine", background: true });
    const foreign = await otherClient.responses
      .create({ model: "gpt-5-pro", input: "x", previous_response_id: mine.id, background: true })
      .catch((e: unknown) => e);
    expect(foreign).toMatchObject({ status: 400, code: "previous_response_not_found" });
    expect(relay.sim.stats().ops.create - stored).toBe(1);
  });
});

describe("OpenAI's schema at every status", () => {
  it("a queued job already has every request-derived field, echoed from the request", async () => {
    const res = await relay.call("POST", "/v1/responses", {
      model: "gpt-5-pro",
      input: "fields",
      background: true,
      instructions: "Be brief.",
      temperature: 0.5,
      tools: [{ type: "function", name: "lookup", parameters: { type: "object", properties: {} } }],
    });
    expect(res.status).toBe(202);
    for (const field of REQUEST_FIELDS) expect(res.body, field).toHaveProperty(field);
    expect(res.body).toMatchObject({
      status: "queued",
      instructions: "Be brief.",
      temperature: 0.5,
      top_p: 1,
      tool_choice: "auto",
      parallel_tool_calls: true,
      background: true,
      store: true,
    });
    expect(res.body.tools).toHaveLength(1);
    expect(res.body).not.toHaveProperty("output_text");
    const list = await relay.call("GET", "/v1/responses?limit=5");
    for (const entry of list.body.data) for (const field of REQUEST_FIELDS) expect(entry, field).toHaveProperty(field);
  });

  it("takes all 16 metadata pairs OpenAI allows, and never shows the relay's tag", async () => {
    const metadata = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, `v${i}`]));
    const res = await relay.call("POST", "/v1/responses", {
      model: "gpt-5-pro",
      input: "full",
      background: true,
      metadata,
    });
    expect(res.status).toBe(202);
    expect(res.body.metadata).toEqual(metadata);
    expect((relay.sim.getResponse(res.body.relay.upstream_id) as any).metadata).toEqual(metadata);
    const few = await relay.call("POST", "/v1/responses", { model: "gpt-5-pro", input: "few", background: true });
    expect(few.body.metadata).toEqual({});
    expect((relay.sim.getResponse(few.body.relay.upstream_id) as any).metadata).toEqual({ relay_job_id: few.body.id });
  });
});

describe("streams and status agree", () => {
  it("a status read right after the stream delivered response.completed says completed", async () => {
    for (let i = 0; i < 4; i++) {
      const stream = await client.responses.create({ model: "gpt-5-pro", input: `agree ${i}`, stream: true });
      const reading = (async () => {
        let id = "";
        for await (const event of stream) {
          if (event.type === "response.created") id = event.response.id;
          if (event.type === "response.completed") return id;
        }
        return id;
      })();
      const id = await driven(reading);
      const status = await client.responses.retrieve(id);
      expect(status.status).toBe("completed");
      expect(status.output_text.length).toBe(300);
    }
  });

  it("a cancelled job's stream ends so that finalResponse() reports it cancelled", async () => {
    const job = await client.responses.create({ model: "gpt-5-pro", input: "cancel me", background: true });
    await driven(
      (async () => {
        while ((await client.responses.retrieve(job.id)).status !== "in_progress")
          await new Promise((r) => setTimeout(r, 20));
      })(),
    );
    await client.responses.cancel(job.id);
    const stream = client.responses.stream({ response_id: job.id });
    const final = await driven(stream.finalResponse());
    expect(final.status).toBe("cancelled");
    expect(final.id).toBe(job.id);
  });
});

describe("include", () => {
  it("is asked of the upstream on every read, at create and on retrieve", async () => {
    const done = await driven(
      client.responses.create({ model: "gpt-5-pro", input: "include", include: ["reasoning.encrypted_content"] }),
    );
    expect(done.status).toBe("completed");
    const upstreamId = (done as any).relay.upstream_id as string;
    const reads = relay.sim.stats().ops.retrieve;
    const again = await client.responses.retrieve(done.id, { include: ["message.output_text.logprobs"] });
    expect(again.status).toBe("completed");
    expect(again.id).toBe(done.id);
    expect(relay.sim.stats().ops.retrieve - reads).toBe(1);
    expect(upstreamId).not.toBe(done.id);
  });
});
