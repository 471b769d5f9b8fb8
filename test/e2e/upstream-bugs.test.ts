/**
 * A bug is not an upstream fault. The upstream adapter classifies what the SDK threw into the
 * domain's error types; anything else (here a TypeError, as a programming error in the adapter
 * would throw) must surface as an internal error, not end the job as an "interrupted" create or
 * mark the upstream as busy. The faulty upstream is a stand-in on purpose: the real adapter has no
 * such bug to trigger, which is the point.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Upstream } from "#shared/ports.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";

let relay: RelayHarness | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

/** The real upstream, except that `method` throws what a bug would. */
function withBug(real: Upstream, method: "create" | "retrieve"): Upstream {
  return new Proxy(real, {
    get(target, key, receiver) {
      if (key === method)
        return async () => {
          throw new TypeError("Cannot read properties of undefined (reading 'id')");
        };
      const value = Reflect.get(target, key, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("a bug in the upstream adapter", () => {
  it("answers a submit with an internal error instead of failing the job as an interrupted create", async () => {
    relay = await startRelay();
    const h = relay;
    const real = h.deps.upstream;
    (h.deps as { upstream: Upstream }).upstream = withBug(real, "create");
    const res = await h.call("POST", "/v1/responses", { model: "gpt-5-pro", input: "x" });
    expect(res.status).toBe(500);
    expect(res.body.error).toMatchObject({ type: "server_error" });
    expect(JSON.stringify(res.body)).not.toContain("Cannot read properties");
    const [job] = (await h.call("GET", "/v1/responses?limit=10")).body.data;
    expect(job.status).toBe("queued");
    expect(job.error).toBeNull();
    expect(h.sim.stats().ops.create ?? 0).toBe(0);
  });

  it("leaves a polled job untouched instead of recording an upstream fault", async () => {
    relay = await startRelay();
    const h = relay;
    const submitted = await h.call("POST", "/v1/responses", {
      model: "gpt-5-pro",
      input: "x",
      background: true,
    });
    expect(submitted.status).toBe(202);
    const before = await h.deps.jobs.get(submitted.body.id);
    const real = h.deps.upstream;
    (h.deps as { upstream: Upstream }).upstream = withBug(real, "retrieve");
    h.clock.advance(5_000);
    await expect(h.newPoller().tick()).resolves.toBeDefined();
    const after = await h.deps.jobs.get(submitted.body.id);
    expect(after!.lastUpstreamError).toBeNull();
    expect(after!.version).toBe(before!.version);
    expect(after!.status).not.toBe("failed");
  });
});
