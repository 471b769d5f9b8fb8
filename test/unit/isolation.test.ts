import { describe, expect, it } from "vitest";
import { boundOutput } from "#shared/domain/budget.ts";
import { stateAfterFailure } from "#shared/domain/endpoint-health.ts";
import type { Job } from "#shared/domain/job.ts";
import { modelInfo } from "#shared/domain/models.ts";
import { DeliveryLane } from "#shared/poller/delivery-lane.ts";
import { fairShare } from "#shared/poller/fair-share.ts";

describe("boundOutput", () => {
  const pro = modelInfo("gpt-5-pro");
  it("never lets the worst case exceed the cap, for any input and cap", () => {
    for (const input of [0, 1, 17, 999, 12_345, 80_000])
      for (const cap of [0.0025, 0.01, 0.123457, 1, 7.5]) {
        const verdict = boundOutput(pro, input, cap, null);
        if (!verdict.ok) {
          expect((input * 15 + 16 * 120) / 1e6).toBeGreaterThan(cap);
          continue;
        }
        expect((input * 15 + verdict.maxOutputTokens * 120) / 1e6).toBeLessThanOrEqual(cap);
        // And it is the most that fits: one more token would not.
        expect((input * 15 + (verdict.maxOutputTokens + 1) * 120) / 1e6).toBeGreaterThan(cap);
      }
  });
  it("keeps the caller's smaller max_output_tokens, and has no answer without prices", () => {
    expect(boundOutput(pro, 100, 10, 500)).toMatchObject({ ok: true, maxOutputTokens: 500 });
    expect(boundOutput(modelInfo("who-knows"), 100, 10, null)).toEqual({ ok: false, reason: "no_price" });
  });
});

describe("stateAfterFailure", () => {
  const minute = 60_000;
  it("turns failing only after sustained failure, disabled only after days", () => {
    expect(stateAfterFailure({ state: "healthy", failures: 50, failingSince: 0 }, minute)).toBe("healthy");
    expect(stateAfterFailure({ state: "healthy", failures: 4, failingSince: 0 }, 10 * minute)).toBe("healthy");
    expect(stateAfterFailure({ state: "healthy", failures: 5, failingSince: 0 }, 2 * minute)).toBe("failing");
    expect(stateAfterFailure({ state: "failing", failures: 99, failingSince: 0 }, 71 * 60 * minute)).toBe("failing");
    expect(stateAfterFailure({ state: "failing", failures: 99, failingSince: 0 }, 72 * 60 * minute)).toBe("disabled");
  });
});

describe("DeliveryLane", () => {
  const job = (id: string, tenantId: string, url: string) => ({ id, tenantId, webhook: { url } }) as unknown as Job;
  it("bounds sends per endpoint and per tenant, and lets other endpoints through", async () => {
    const lane = new DeliveryLane({ total: 10, perEndpoint: 2, perTenant: 3 });
    const release: (() => void)[] = [];
    const started: string[] = [];
    const hang = (id: string) => () => {
      started.push(id);
      return new Promise<void>((resolve) => release.push(resolve));
    };
    for (let i = 0; i < 5; i++) lane.offer(job(`a${i}`, "A", "https://hole.example"), hang(`a${i}`));
    for (let i = 0; i < 3; i++) lane.offer(job(`c${i}`, "A", `https://other-${i}.example`), hang(`c${i}`));
    lane.offer(job("b0", "B", "https://fine.example"), hang("b0"));
    expect(lane.offer(job("b0", "B", "https://fine.example"), hang("b0"))).toBe(false);
    // Two to the hole (per endpoint), one more of A elsewhere (per tenant 3), B at once.
    expect(started.filter((id) => id.startsWith("a"))).toHaveLength(2);
    expect(started.filter((id) => id.startsWith("c"))).toHaveLength(1);
    expect(started).toContain("b0");
    expect(lane.inFlight).toBe(4);
    release.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(lane.inFlight).toBe(4);
    // Stopping drops what waits (it stays due in the table) and lets what is in flight finish.
    const waiting = lane.waiting;
    expect(waiting).toBe(4);
    expect(lane.stop()).toHaveLength(waiting);
    expect(lane.offer(job("b1", "B", "https://fine.example"), hang("b1"))).toBe(false);
    for (const r of release) r();
    await lane.idle();
    expect(lane.inFlight).toBe(0);
  });
});

describe("fairShare", () => {
  it("lets every tenant's first item start before any tenant's second, keeping each tenant's order", () => {
    const items = [
      ...Array.from({ length: 100 }, (_, i) => ({ tenant: "A", n: i })),
      { tenant: "B", n: 0 },
      { tenant: "B", n: 1 },
      { tenant: undefined, n: 0 },
    ];
    const ordered = fairShare(items, (item) => item.tenant);
    expect(ordered).toHaveLength(items.length);
    expect(new Set(ordered)).toEqual(new Set(items));
    // With 100 of A due ahead of them, B's two and the unread one are among the first six.
    expect(ordered.slice(0, 6).filter((item) => item.tenant !== "A")).toHaveLength(3);
    const aOrder = ordered.filter((item) => item.tenant === "A").map((item) => item.n);
    expect(aOrder).toEqual([...aOrder].sort((x, y) => x - y));
  });
  it("leaves a single tenant's items as they were", () => {
    const items = [3, 1, 2].map((n) => ({ tenant: "A", n }));
    expect(fairShare(items, (item) => item.tenant)).toEqual(items);
  });
});
