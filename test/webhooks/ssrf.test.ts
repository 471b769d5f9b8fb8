import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPublicAddress } from "#shared/webhooks/address-policy.ts";
import { HttpWebhookSender } from "#shared/webhooks/http-sender.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { startReceiver, type Receiver } from "#test/support/receiver.ts";

/** Every spelling of a refused address worth trying (docs/upstream-facts.md, "Webhook URLs and SSRF"). */
const BLOCKED_URLS = [
  "https://127.0.0.1/h",
  "https://127.1/h",
  "https://0x7f.1/h",
  "https://0177.0.0.1/h",
  "https://2130706433/h",
  "https://[::1]/h",
  "https://[::ffff:127.0.0.1]/h",
  "https://0.0.0.0/h",
  "https://169.254.169.254/latest/meta-data/",
  "https://[fd00:ec2::254]/h",
  "https://10.0.0.1/h",
  "https://172.16.5.4/h",
  "https://192.168.1.1/h",
  "https://100.64.0.1/h",
  "https://224.0.0.1/h",
  "https://255.255.255.255/h",
  "https://198.18.0.1/h",
  "https://[64:ff9b::a9fe:a9fe]/h",
  "https://[2002:a9fe:a9fe::]/h",
  "https://[2001::1]/h",
  "https://[fe80::1]/h",
  "https://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
  "https://[::127.0.0.1]/h",
  "https://[::169.254.169.254]/h",
  "https://[::ffff:a9fe:a9fe]/h",
];

/** A resolver for names that do not exist: no network is needed. */
const names: Record<string, string[]> = {
  "public.example": ["93.184.216.34"],
  "sneaky.example": ["10.1.2.3"],
  "mixed.example": ["93.184.216.34", "127.0.0.1"],
};
let rebindCalls = 0;
const resolve = async (hostname: string) => {
  if (hostname === "rebind.example") return rebindCalls++ === 0 ? ["93.184.216.34"] : ["127.0.0.1"];
  const found = names[hostname];
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
  return found;
};

let relay: RelayHarness;
beforeAll(async () => {
  relay = await startRelay({ env: { RELAY_ALLOW_PRIVATE_WEBHOOKS: "false" }, resolve });
});
afterAll(() => relay.close());

describe("webhook URLs in AWS mode", () => {
  it.each(BLOCKED_URLS)("refuses %s at submit with a clear 400, and stores nothing", async (url) => {
    const creates = relay.sim.stats().ops.create;
    const res = await relay.call("POST", "/v1/responses", {
      background: true,
      model: "gpt-5-pro",
      input: "x",
      webhook: { url },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ param: "webhook.url", code: "invalid_webhook_url" });
    expect(res.body.error.message).toMatch(/not a public address/);
    expect(relay.sim.stats().ops.create).toBe(creates);
  });

  it.each([
    ["http://public.example/h", /scheme must be https/],
    ["file:///etc/passwd", /scheme must be https/],
    ["https://sneaky.example/h", /10\.1\.2\.3, which is not a public address/],
    ["https://mixed.example/h", /127\.0\.0\.1, which is not a public address/],
    ["https://nowhere.example/h", /ENOTFOUND/],
  ])("refuses %s", async (url, message) => {
    const res = await relay.call("POST", "/v1/responses", {
      background: true,
      model: "gpt-5-pro",
      input: "x",
      webhook: { url },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(message);
  });

  it("accepts a public https URL", async () => {
    const res = await relay.call("POST", "/v1/responses", {
      background: true,
      model: "gpt-5-pro",
      input: "x",
      webhook: { url: "https://public.example/hooks" },
    });
    expect(res.status).toBe(202);
  });

  it("classifies with ipaddr.js: only global unicast is public", () => {
    expect(isPublicAddress("8.8.8.8")).toBe(true);
    expect(isPublicAddress("2606:4700::1111")).toBe(true);
    expect(isPublicAddress("::ffff:8.8.8.8")).toBe(true);
    expect(isPublicAddress("::ffff:169.254.169.254")).toBe(false);
    expect(isPublicAddress("not an ip")).toBe(false);
  });
});

describe("at send time", () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver(`whsec_${Buffer.alloc(32, 1).toString("base64")}`);
  });
  afterAll(() => receiver.close());

  it("re-checks the address: a name that rebinds to loopback after submit is refused, and nothing connects", async () => {
    rebindCalls = 0;
    const res = await relay.call("POST", "/v1/responses", {
      background: true,
      model: "gpt-5-pro",
      input: "rebind",
      webhook: { url: `https://rebind.example:${receiver.port}/hook` },
    });
    expect(res.status).toBe(202);
    await relay.runUntil(
      async () => (await relay.call("GET", `/v1/responses/${res.body.id}/deliveries`)).body.data.length > 0,
    );
    const [attempt] = (await relay.call("GET", `/v1/responses/${res.body.id}/deliveries`)).body.data;
    expect(attempt.status_code).toBeNull();
    expect(attempt.error).toMatch(/refused: rebind.example resolves to 127\.0\.0\.1/);
    expect(receiver.received).toHaveLength(0);
  });

  it("connects to the address it checked (one lookup per attempt, no second one)", async () => {
    let lookups = 0;
    const sender = new HttpWebhookSender({
      allowPrivate: true,
      resolve: async () => {
        lookups++;
        return ["127.0.0.1"];
      },
    });
    // hooks.invalid cannot resolve anywhere: reaching the receiver proves the pinned address was used.
    const result = await sender.send({
      url: `http://hooks.invalid:${receiver.port}/hook`,
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(result.status).toBe(200);
    expect(lookups).toBe(1);
    expect(receiver.received.at(-1)!.headers.host).toBe(`hooks.invalid:${receiver.port}`);
  });

  it("refuses a private address at send time even if it got stored", async () => {
    const sender = new HttpWebhookSender({ allowPrivate: false });
    const result = await sender.send({ url: `https://127.0.0.1:${receiver.port}/hook`, headers: {}, body: "{}" });
    expect(result).toMatchObject({ status: null });
    expect(result.error).toMatch(/not a public address/);
  });

  it("times out a receiver that never answers", async () => {
    const { createServer } = await import("node:net");
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    const sender = new HttpWebhookSender({ allowPrivate: true, timeoutMs: 300 });
    const result = await sender.send({ url: `http://127.0.0.1:${port}/`, headers: {}, body: "{}" });
    expect(result.status).toBeNull();
    expect(result.error).toMatch(/timed out after 300 ms/);
    silent.close();
  });
});
