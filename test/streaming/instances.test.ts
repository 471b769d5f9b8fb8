import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "#shared/config.ts";
import { createApp } from "#shared/http/app.ts";
import { createDeps } from "#shared/runtime.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { deltaText, driveToEnd, driveUntil, openStream, range, seqs } from "./support.ts";

/** A second relay instance (another Lambda, another process) on the same table and upstream. */
async function secondInstance(relay: RelayHarness) {
  const config = loadConfig({
    RELAY_TABLE_NAME: relay.table.tableName,
    DYNAMODB_ENDPOINT: relay.table.endpoint,
    OPENAI_BASE_URL: relay.sim.url,
    OPENAI_API_KEY: "sk-simulator",
    RELAY_ALLOW_PRIVATE_WEBHOOKS: "true",
  });
  const deps = createDeps(config, { clock: relay.clock, log: () => {}, events: { publish: async () => {} } });
  const app = createApp(deps, { maxBodyBytes: config.maxBodyBytes, log: () => {} });
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    apiKey: relay.apiKey,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let relay: RelayHarness;
let other: Awaited<ReturnType<typeof secondInstance>>;
beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 6000, outputBytes: 1500 } });
  other = await secondInstance(relay);
});
afterAll(async () => {
  await other.close();
  await relay.close();
});

const submit = async (metadata: Record<string, string> = {}) =>
  (
    await relay.call("POST", "/v1/responses", {
      background: true,
      model: "gpt-5-pro",
      input: `instances ${Math.random()}`,
      metadata,
    })
  ).body as { id: string; relay: { upstream_id: string } };

describe("callers of one job on several relay instances", () => {
  it("all see the same numbers and content, with the upstream cutting streams", async () => {
    const job = await submit({ sim_stream_cut_after: "5" });
    const reads = await Promise.all([
      openStream(relay, `/v1/responses/${job.id}?stream=true`),
      openStream(other, `/v1/responses/${job.id}?stream=true`),
      openStream(relay, `/v1/responses/${job.id}?stream=true`),
      openStream(other, `/v1/responses/${job.id}?stream=true`),
    ]);
    let ended = 0;
    for (const read of reads) void read.done.then(() => ended++);
    await driveUntil(relay, () => ended === reads.length);
    const [first, ...rest] = reads;
    expect(seqs(first!.events)).toEqual(range(0, first!.events.length));
    expect(first!.events.at(-1)!.type).toBe("response.completed");
    for (const read of rest) expect(read.events).toEqual(first!.events);
    const upstream = relay.sim.getResponse(job.relay.upstream_id) as any;
    expect(deltaText(first!.events)).toBe(upstream.output[0].content[0].text);
  });

  it("carry on when the instance reading the upstream loses its caller: another takes over", async () => {
    const job = await submit({ sim_stream_cut_after: "4" });
    const leaving = await openStream(relay, `/v1/responses/${job.id}?stream=true`, { stopAfter: 12 });
    // The first instance holds the writer lease; the second one follows the stored log.
    await driveUntil(relay, () => leaving.events.length >= 2, { stepMs: 0, tick: false });
    const staying = await openStream(other, `/v1/responses/${job.id}?stream=true`);
    await driveUntil(relay, () => leaving.stoppedEarly, { stepMs: 250 });
    // The job runs to its end, then the clock stops: the writer lease (30 s) cannot expire, so
    // the stream completes only if the first instance handed the lease back when its caller left.
    relay.clock.advance(10_000);
    await driveToEnd(relay, staying, { stepMs: 0, tick: false, maxSteps: 500 });
    expect(seqs(staying.events)).toEqual(range(0, staying.events.length));
    expect(staying.events.at(-1)!.type).toBe("response.completed");
    expect(staying.events.slice(0, 12)).toEqual(leaving.events);
    const upstream = relay.sim.getResponse(job.relay.upstream_id) as any;
    expect(deltaText(staying.events)).toBe(upstream.output[0].content[0].text);
  });
});
