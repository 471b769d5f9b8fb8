import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { Webhook } from "standardwebhooks";
import { BASE_REQUEST, startHarness, waitFor, type SimHarness } from "./helpers.ts";

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A tiny receiver that records deliveries and answers with the next scripted status (default 200). */
async function startReceiver(statuses: number[] = []) {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(statuses.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/openai`;
  return { url, deliveries, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const headerRecord = (h: IncomingHttpHeaders) =>
  Object.fromEntries(Object.entries(h).filter(([, v]) => typeof v === "string")) as Record<string, string>;

describe("simulator: OpenAI-style webhooks", () => {
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  let h: SimHarness;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeEach(async () => {
    h = await startHarness({ behaviour: { queuedMs: 1000, runMs: 4000 } });
  });
  afterEach(async () => {
    await h.sim.close();
    await receiver?.close();
  });

  it("posts a signed thin response.completed event when a background response completes", async () => {
    receiver = await startReceiver();
    h.sim.setWebhook({ url: receiver.url, secret });
    const { id } = await h.client.responses.create(BASE_REQUEST);
    await new Promise((r) => setTimeout(r, 120));
    expect(receiver.deliveries).toHaveLength(0); // nothing while it runs

    h.clock.advance(5000);
    const [delivery] = await waitFor(() => receiver.deliveries.length > 0 && receiver.deliveries);
    if (!delivery) throw new Error("waitFor returned no delivery");
    const headers = headerRecord(delivery.headers);
    expect(headers["webhook-id"]).toMatch(/^wh_[0-9a-f]+$/);
    expect(headers["content-type"]).toBe("application/json");

    const event = new Webhook(secret).verify(delivery.body, headers) as Record<string, unknown>;
    expect(event).toEqual({
      object: "event",
      id: expect.stringMatching(/^evt_/),
      type: "response.completed",
      created_at: Math.floor(h.clock.now() / 1000),
      data: { id },
    });
    // The relay will verify with the official SDK; it must accept the same delivery.
    const unwrapped = await new OpenAI({ apiKey: "x" }).webhooks.unwrap(delivery.body, headers, secret);
    expect(unwrapped.type).toBe("response.completed");

    expect(() => new Webhook(`whsec_${randomBytes(32).toString("base64")}`).verify(delivery.body, headers)).toThrow();
    await new Promise((r) => setTimeout(r, 120));
    expect(receiver.deliveries).toHaveLength(1); // exactly once when acknowledged
  });

  it("names the terminal state: failed, incomplete and cancelled", async () => {
    receiver = await startReceiver();
    h.sim.setWebhook({ url: receiver.url, secret });
    const failed = await h.client.responses.create({ ...BASE_REQUEST, metadata: { sim_outcome: "failed" } });
    const incomplete = await h.client.responses.create({ ...BASE_REQUEST, metadata: { sim_outcome: "incomplete" } });
    const cancelled = await h.client.responses.create(BASE_REQUEST);
    await h.client.responses.cancel(cancelled.id);
    h.clock.advance(5000);
    await waitFor(() => receiver.deliveries.length === 3);
    const byId = Object.fromEntries(
      receiver.deliveries.map((d) => {
        const e = new Webhook(secret).verify(d.body, headerRecord(d.headers)) as { type: string; data: { id: string } };
        return [e.data.id, e.type];
      }),
    );
    expect(byId).toEqual({
      [failed.id]: "response.failed",
      [incomplete.id]: "response.incomplete",
      [cancelled.id]: "response.cancelled",
    });
  });

  it("retries a failed delivery with the same webhook-id", async () => {
    receiver = await startReceiver([500]);
    h.sim.setWebhook({ url: receiver.url, secret });
    await h.client.responses.create({ ...BASE_REQUEST, metadata: { sim_queued_ms: "0", sim_run_ms: "0" } });
    await waitFor(() => receiver.deliveries.length === 2);
    const [first, second] = receiver.deliveries;
    if (!first || !second) throw new Error("expected two delivery attempts");
    expect(second.headers["webhook-id"]).toBe(first.headers["webhook-id"]);
    expect(second.body).toBe(first.body);
    expect(new Webhook(secret).verify(second.body, headerRecord(second.headers))).toBeTruthy();
    await waitFor(() => h.sim.stats().webhooks.delivered === 1);
    expect(h.sim.stats().webhooks.failedAttempts).toBe(1);
  });

  it("can send duplicates, and sends nothing for synchronous responses or when unset", async () => {
    receiver = await startReceiver();
    const fast = { sim_queued_ms: "0", sim_run_ms: "0" };
    await h.client.responses.create({ ...BASE_REQUEST, metadata: fast }); // finishes with no webhook configured
    await new Promise((r) => setTimeout(r, 120));
    h.sim.setWebhook({ url: receiver.url, secret, duplicates: 1 });
    await h.client.responses.create({ model: "gpt-5-pro", input: "sync", metadata: fast });
    const bg = await h.client.responses.create({ ...BASE_REQUEST, metadata: fast });
    await waitFor(() => receiver.deliveries.length === 2);
    await new Promise((r) => setTimeout(r, 120));
    expect(receiver.deliveries).toHaveLength(2);
    const [original, duplicate] = receiver.deliveries;
    expect(original?.headers["webhook-id"]).toBe(duplicate?.headers["webhook-id"]);
    expect(JSON.parse(original!.body).data.id).toBe(bg.id);
  });
});
