import OpenAI from "openai";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { startReceiver, type Receiver } from "#test/support/receiver.ts";

/**
 * The caller's webhook body is OpenAI's event envelope: the official SDK's `webhooks.unwrap()`
 * and the `standardwebhooks` library both accept what the relay sends, unchanged.
 */
let relay: RelayHarness;
let receiver: Receiver;
let secret: string;
let client: OpenAI;
beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 3000, outputBytes: 500 } });
  secret = (await relay.deps.tenants.getTenant(relay.tenant.id))!.webhookSecrets[0]!;
  receiver = await startReceiver(secret);
  client = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: relay.apiKey, webhookSecret: secret, maxRetries: 0 });
});
afterAll(async () => {
  await receiver.close();
  await relay.close();
});

const submit = async (metadata: Record<string, string> = {}) =>
  (
    await relay.call("POST", "/v1/responses", {
      model: "gpt-5-pro",
      input: `envelope ${Math.random()}`,
      background: true,
      metadata,
      webhook: { url: receiver.url },
    })
  ).body.id as string;
const deliveriesFor = (id: string) => receiver.received.filter((r) => JSON.parse(r.body).data.id === id);
const waitFor = (id: string, count: number, stepMs = 1000) =>
  relay.runUntil(() => deliveriesFor(id).length >= count, { stepMs, maxSteps: 400 });

describe("the caller's webhook body", () => {
  it("is OpenAI's event envelope, which client.webhooks.unwrap() and standardwebhooks both verify", async () => {
    const id = await submit({ ticket: "W-1" });
    await waitFor(id, 1);
    const [delivery] = deliveriesFor(id);
    expect(delivery!.verified).toBe(true);
    const headers = delivery!.headers as Record<string, string>;
    const verified = new Webhook(secret).verify(delivery!.body, headers) as Record<string, unknown>;

    const event = await client.webhooks.unwrap(delivery!.body, headers);
    expect(event).toEqual(verified);
    expect(event.type).toBe("response.completed");
    expect(event.object).toBe("event");
    expect(event.id).toMatch(/^evt_/);
    expect((event.data as { id: string }).id).toBe(id);
    const status = (await relay.call("GET", `/v1/responses/${id}`)).body;
    expect(event.created_at).toBe(status.relay.ended_at);
    // The whole Response rides inline, as the status endpoint has it.
    const data = event.data as unknown as Record<string, unknown>;
    expect(data.status).toBe("completed");
    expect(data.output).toEqual(status.output);
    expect(data.usage).toEqual(status.usage);
    expect(data.metadata).toEqual({ ticket: "W-1" });

    // A forged or re-signed body is refused by the SDK as by the library.
    const tampered = delivery!.body.replace("W-1", "W-2");
    await expect(client.webhooks.unwrap(tampered, headers)).rejects.toThrow();
    await expect(client.webhooks.unwrap(delivery!.body, headers, `whsec_${"A".repeat(43)}=`)).rejects.toThrow();
  });

  it("carries OpenAI's type for every end, a relay-ended job's as response.cancelled", async () => {
    const failed = await submit({ sim_outcome: "failed" });
    const incomplete = await submit({ sim_outcome: "incomplete" });
    const cancelled = await submit({ sim_run_ms: "600000" });
    await relay.call("POST", `/v1/responses/${cancelled}/cancel`);
    const stuck = await submit({ sim_outcome: "stuck_queued" });
    await relay.runUntil(() => [failed, incomplete, cancelled].every((id) => deliveriesFor(id).length >= 1));
    await waitFor(stuck, 1, 30_000);
    const typeOf = async (id: string) => {
      const r = deliveriesFor(id)[0]!;
      return (await client.webhooks.unwrap(r.body, r.headers as Record<string, string>)).type;
    };
    expect(await typeOf(failed)).toBe("response.failed");
    expect(await typeOf(incomplete)).toBe("response.incomplete");
    expect(await typeOf(cancelled)).toBe("response.cancelled");
    expect(await typeOf(stuck)).toBe("response.cancelled");
  });

  it("keeps the same event id, webhook-id and bytes on every retry", async () => {
    let calls = 0;
    receiver.reply(() => (++calls <= 2 ? { status: 503 } : { status: 200 }));
    try {
      const id = await submit();
      await waitFor(id, 3, 5_000);
      const copies = deliveriesFor(id);
      expect(new Set(copies.map((r) => r.body)).size).toBe(1);
      expect(new Set(copies.map((r) => r.headers["webhook-id"])).size).toBe(1);
      const event = await client.webhooks.unwrap(copies[2]!.body, copies[2]!.headers as Record<string, string>);
      expect(event.id).toBe(JSON.parse(copies[0]!.body).id);
      // And a manual redelivery is the same event again.
      await relay.call("POST", `/v1/responses/${id}/deliveries/redeliver`);
      expect(deliveriesFor(id).at(-1)!.body).toBe(copies[0]!.body);
    } finally {
      receiver.reply(() => ({ status: 200 }));
    }
  });

  it("is thin above the inline limit and still unwraps: id, status, usage, metadata, status URL", async () => {
    const id = await submit({ sim_output_bytes: "300000", ticket: "big" });
    await waitFor(id, 1);
    const r = deliveriesFor(id)[0]!;
    expect(Buffer.byteLength(r.body)).toBeLessThan(64 * 1024);
    const event = await client.webhooks.unwrap(r.body, r.headers as Record<string, string>);
    expect(event.type).toBe("response.completed");
    const data = event.data as unknown as Record<string, any>;
    expect(data).toMatchObject({ id, object: "response", status: "completed", metadata: { ticket: "big" } });
    expect(data.output).toBeUndefined();
    expect(data.usage.output_tokens).toBeGreaterThan(0);
    expect(data.relay).toMatchObject({ output_omitted: true, status_url: expect.stringMatching(new RegExp(`${id}$`)) });
  });
});
