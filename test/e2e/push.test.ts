/**
 * Push-aware polling (issue 14): while OpenAI's verified webhooks arrive, a running job is polled
 * only as a backstop, minutes apart, and its end is learned from the webhook, after which the
 * caller's own webhook goes out at once, with no poller tick. A lost webhook costs bounded lag;
 * once webhooks stop arriving, jobs are polled on the usual schedule again. Injected time; the
 * simulator sends its signed webhooks to the relay over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startReceiver, type Receiver } from "#test/support/receiver.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";

const SECRET = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;
const FIVE_MINUTES = 300_000;
const QUEUED_MS = 1_000;

let relay: RelayHarness;
let receiver: Receiver;
beforeAll(async () => {
  relay = await startRelay({
    env: { OPENAI_WEBHOOK_SECRET: SECRET },
    behaviour: { queuedMs: QUEUED_MS, runMs: FIVE_MINUTES },
  });
  receiver = await startReceiver(relay.tenant.webhookSecrets[0]!);
});
afterAll(async () => {
  await relay.close();
  await receiver.close();
});

const pushToRelay = () => relay.sim.setWebhook({ url: `${relay.url}/v1/webhooks/openai`, secret: SECRET });
const retrieves = () => relay.sim.stats().ops.retrieve ?? 0;
const submit = async () => {
  const res = await relay.call("POST", "/v1/responses", {
    background: true,
    model: "gpt-5-pro",
    input: "a five-minute job",
    webhook: { url: receiver.url },
  });
  expect(res.status).toBe(202);
  return res.body.id as string;
};
const status = async (id: string) => (await relay.call("GET", `/v1/responses/${id}`)).body;
const hookFor = (id: string) => receiver.accepted().find((r) => JSON.parse(r.body).data.id === id);
async function realWait(condition: () => Promise<boolean> | boolean, what: string) {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${what} did not happen within 5 s`);
}
/** Ticks the poller every 5 s of clock until `untilMs` after `from` (or the job ends). */
async function runFor(id: string, from: number, untilMs: number) {
  while (relay.clock.now() - from < untilMs) {
    relay.clock.advance(5_000);
    await relay.poller.tick();
    if ((await relay.deps.jobs.get(id))!.status === "completed") return;
  }
}

describe("push-aware polling", () => {
  let polledWithoutPush = 0;

  it("without OpenAI's webhooks, polls a 5-minute job on the usual schedule", async () => {
    const id = await submit();
    const before = retrieves();
    const from = relay.clock.now();
    await runFor(id, from, FIVE_MINUTES + 60_000);
    expect((await status(id)).status).toBe("completed");
    polledWithoutPush = retrieves() - before;
    expect((await relay.deps.jobs.get(id))!.watch).toBe("poll");
    expect(polledWithoutPush).toBeGreaterThan(10);
  });

  it("with them, polls only as a backstop and sends the caller's webhook the moment OpenAI's arrives", async () => {
    pushToRelay();
    // One verified webhook makes push live: the first job's end tells the relay it is reachable.
    const warm = await submit();
    relay.clock.advance(QUEUED_MS + FIVE_MINUTES + 1_000);
    await realWait(async () => (await status(warm)).status === "completed", "the warm-up job's end by webhook");

    const id = await submit();
    const before = retrieves();
    const from = relay.clock.now();
    // Up to just before the end: backstop polls only, the label says how the job is watched.
    await runFor(id, from, FIVE_MINUTES - 5_000);
    const running = await status(id);
    expect(running.status).toBe("in_progress");
    expect(running.relay.status_label).toBe("running in background mode, watched by OpenAI's webhooks…");
    // The end: no poller tick from here. OpenAI's webhook makes the relay look (one retrieve) and
    // the caller's webhook follows at once.
    relay.clock.advance(10_000);
    await realWait(() => hookFor(id) !== undefined, "the caller's webhook");
    const polled = retrieves() - before;
    expect((await status(id)).status).toBe("completed");
    expect(JSON.parse(hookFor(id)!.body).type).toBe("response.completed");
    // Two backstop polls (at 2 and 4 minutes) and the look OpenAI's webhook asked for; without
    // push the same job took more than ten.
    expect(polled).toBeLessThanOrEqual(4);
    expect(polled).toBeLessThan(polledWithoutPush / 3);
  });

  it("finds the end within one backstop interval when OpenAI's webhook is lost", async () => {
    relay.sim.setWebhook(null); // the relay still heard one a minute ago: push stays live
    const id = await submit();
    const from = relay.clock.now();
    const plannedEnd = from + QUEUED_MS + FIVE_MINUTES;
    await runFor(id, from, FIVE_MINUTES + 6 * 60_000);
    const job = (await relay.deps.jobs.get(id))!;
    expect(job.status).toBe("completed");
    expect(job.statusChangedAt - plannedEnd).toBeLessThanOrEqual(FIVE_MINUTES);
    // The backstop that found it sent the caller's webhook too.
    await realWait(() => hookFor(id) !== undefined, "the caller's webhook");
  });

  it("polls on the usual schedule again once OpenAI's webhooks stop arriving", async () => {
    relay.clock.advance(relay.deps.settings.pushFreshMs + 60_000);
    const id = await submit();
    await runFor(id, relay.clock.now(), 30_000);
    const running = await status(id);
    expect(running.relay.status_label).toBe("running in background mode…");
    expect((await relay.deps.jobs.get(id))!.watch).toBe("poll");
  });
});
