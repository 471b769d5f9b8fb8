import { afterEach, describe, expect, it } from "vitest";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { startReceiver } from "#test/support/receiver.ts";

let relay: RelayHarness | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

/** A fresh poller each minute, as EventBridge would start one: nothing survives in memory. */
async function minutes(h: RelayHarness, count: number, stepMs = 2000) {
  for (let m = 0; m < count; m++) {
    const poller = h.newPoller();
    for (let t = 0; t < 60_000; t += stepMs) {
      h.clock.advance(stepMs);
      await poller.tick();
    }
    await poller.releaseAll();
  }
}

describe("work a job still owes after it ended", () => {
  it("keeps retrying an owed upstream cancel on its own schedule, not the failing webhook's", async () => {
    relay = await startRelay({ behaviour: { queuedMs: 500, runMs: 3_600_000 } });
    const h = relay;
    const receiver = await startReceiver((await h.deps.tenants.getTenant(h.tenant.id))!.webhookSecrets[0]!);
    receiver.reply(() => ({ status: 503 }));
    const res = await h.call("POST", "/v1/responses", {
      background: true,
      model: "gpt-5-pro",
      input: "cancel me",
      webhook: { url: receiver.url },
    });
    await h.runUntil(async () => (await h.call("GET", `/v1/responses/${res.body.id}`)).body.status === "in_progress");
    h.sim.injectFault({ op: "cancel", status: 503, times: 3 });
    const cancelled = await h.call("POST", `/v1/responses/${res.body.id}/cancel`);
    expect(cancelled.body.status).toBe("cancelled");
    expect(cancelled.body.relay.status_label).toBe("cancelled (telling the upstream…)");
    await minutes(h, 3);
    // the upstream was told within minutes, although the webhook is now on its 30-minute retry
    expect((h.sim.getResponse(res.body.relay.upstream_id) as any).status).toBe("cancelled");
    const job = await h.deps.jobs.get(res.body.id);
    expect(job!.upstreamCancelPending).toBe(false);
    expect(job!.delivery!.state).toBe("pending");
    await receiver.close();
  });

  it("cancels the upstream response of a create that was in flight when the caller cancelled, even if the first cancel fails", async () => {
    relay = await startRelay({ behaviour: { queuedMs: 500, runMs: 3_600_000 } });
    const h = relay;
    // Slow create: the caller's cancel lands while it is in flight (the job exists before the call).
    h.sim.injectFault({ op: "create", delayMs: 3000 });
    const submitting = h.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "race" });
    let job: any;
    while (!job) {
      await new Promise((r) => setTimeout(r, 20));
      [job] = (await h.call("GET", "/v1/responses")).body.data;
    }
    expect(h.sim.stats().createdIds).toHaveLength(0);
    h.sim.injectFault({ op: "cancel", status: 503, times: 1 });
    expect((await h.call("POST", `/v1/responses/${job.id}/cancel`)).body.status).toBe("cancelled");
    const submitted = await submitting;
    expect(submitted.status).toBe(202);
    expect(submitted.body.status).toBe("cancelled");
    const upstreamId = h.sim.stats().createdIds[0]!;
    expect((h.sim.getResponse(upstreamId) as any).status).not.toBe("cancelled");
    await minutes(h, 1);
    expect((h.sim.getResponse(upstreamId) as any).status).toBe("cancelled");
    expect((await h.deps.jobs.get(job.id))!.upstreamId).toBe(upstreamId);
  });
});

describe("status after trouble", () => {
  it("clears the 'upstream busy' note once the upstream answers again", async () => {
    relay = await startRelay({ behaviour: { queuedMs: 500, runMs: 3_600_000 } });
    const h = relay;
    const res = await h.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "blip" });
    await h.runUntil(async () => (await h.call("GET", `/v1/responses/${res.body.id}`)).body.status === "in_progress");
    h.sim.injectFault({ op: "retrieve", status: 503, times: 1 });
    await h.runUntil(
      async () => (await h.call("GET", `/v1/responses/${res.body.id}`)).body.relay.last_upstream_error !== null,
      { stepMs: 5000 },
    );
    await minutes(h, 2);
    const status = (await h.call("GET", `/v1/responses/${res.body.id}`)).body;
    expect(status.relay.last_upstream_error).toBeNull();
    expect(status.relay.status_label).toBe("running in background mode…");
  });

  it("keeps running jobs pending when the upstream refuses the relay's key, and answers submits with a 502", async () => {
    relay = await startRelay({ behaviour: { queuedMs: 500, runMs: 120_000 } });
    const h = relay;
    const res = await h.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "key rotated" });
    h.sim.injectFault({ op: "any", status: 401, times: Infinity });
    await minutes(h, 3);
    const during = (await h.call("GET", `/v1/responses/${res.body.id}`)).body;
    expect(during.status).not.toBe("failed");
    expect(during.relay.last_upstream_error).toMatch(/refused the relay's credentials/);
    const submit = await h.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "new one" });
    expect(submit.status).toBe(502);
    expect(submit.body.error).toMatchObject({ type: "server_error", code: "upstream_auth_failed" });
    h.sim.clearFaults();
    const done = await h.settle(res.body.id, { stepMs: 10_000 });
    expect(done.status).toBe("completed");
  });
});

describe("poller lag metric", () => {
  it("stays near zero for a healthy long job polled by a fresh poller every minute", async () => {
    relay = await startRelay({ behaviour: { queuedMs: 500, runMs: 3_600_000 } });
    const h = relay;
    await h.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "deep research" });
    await minutes(h, 8);
    const lags = h.metrics.filter((m) => m.name === "OldestPendingJobAgeSeconds").map((m) => m.value);
    expect(lags.length).toBeGreaterThan(100);
    expect(Math.max(...lags)).toBeLessThanOrEqual(3);
  });
});
