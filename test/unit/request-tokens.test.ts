/**
 * The request-rate tokens (shared/store/request-tokens.ts) over an in-memory stand-in for the
 * table's minute counter (the same rule as the conditional ADD: never past the limit), shared by
 * several processes. The DynamoDB side is covered in test/e2e/tenant-limits.test.ts.
 */
import { describe, expect, it } from "vitest";
import { batchFor, RequestTokens, WINDOW_MS, type ReserveTokens } from "#shared/store/request-tokens.ts";

/** One table: a counter per tenant and minute, reservations taking what is left. */
function sharedCounter(options: { delayMs?: () => number } = {}) {
  const counts = new Map<string, number>();
  let calls = 0;
  let failNext = false;
  const reserve: ReserveTokens = async (tenantId, windowStart, want, limit) => {
    calls++;
    const delay = options.delayMs?.() ?? 0;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    else await Promise.resolve();
    if (failNext) {
      failNext = false;
      throw new Error("table unavailable");
    }
    const key = `${tenantId} ${windowStart}`;
    const count = counts.get(key) ?? 0;
    const got = Math.max(0, Math.min(want, limit - count));
    counts.set(key, count + got);
    return { got, count: count + got };
  };
  return {
    reserve,
    count: (tenantId: string, windowStart: number) => counts.get(`${tenantId} ${windowStart}`) ?? 0,
    calls: () => calls,
    failNext: () => void (failNext = true),
  };
}

const T0 = 1_800_000_000_000 - (1_800_000_000_000 % WINDOW_MS);

describe("request tokens", () => {
  it("below 200 a minute: one write per request, exact across processes, as before batching", async () => {
    const table = sharedCounter();
    const [a, b] = [new RequestTokens(table.reserve), new RequestTokens(table.reserve)];
    expect(batchFor(5)).toBe(1);
    expect(batchFor(199)).toBe(1);
    const seen: [boolean, number][] = [];
    for (const p of [a, b, a, b, a]) {
      const taken = await p.take("t", 5, T0 + 1000);
      seen.push([taken.granted, taken.remaining]);
    }
    expect(seen).toEqual([
      [true, 4],
      [true, 3],
      [true, 2],
      [true, 1],
      [true, 0],
    ]);
    expect(table.calls()).toBe(5);
    for (const p of [a, b])
      expect(await p.take("t", 5, T0 + 2000)).toEqual({ granted: false, remaining: 0, resetAtMs: T0 + WINDOW_MS });
    // Once a process has seen the minute full it refuses without asking again (the counter never goes down).
    const calls = table.calls();
    for (let i = 0; i < 10; i++) expect((await a.take("t", 5, T0 + 3000)).granted).toBe(false);
    expect(table.calls()).toBe(calls);
    // Another tenant, and the next minute, start afresh.
    expect((await a.take("u", 5, T0 + 3000)).granted).toBe(true);
    expect(await a.take("t", 5, T0 + WINDOW_MS)).toMatchObject({ granted: true, remaining: 4 });
  });

  it("never grants more than the limit across processes, under concurrency and slow writes", async () => {
    const limit = 1_000;
    const table = sharedCounter({ delayMs: () => Math.random() * 3 });
    const processes = Array.from({ length: 4 }, () => new RequestTokens(table.reserve));
    let granted = 0;
    let refused = 0;
    // Bursts of concurrent requests on every process until every one of them refuses.
    while (refused < 4 * 20) {
      const burst = await Promise.all(
        processes.flatMap((p) => Array.from({ length: 20 }, () => p.take("t", limit, T0 + 5_000))),
      );
      granted += burst.filter((r) => r.granted).length;
      refused = burst.filter((r) => !r.granted).length;
    }
    expect(table.count("t", T0)).toBe(limit);
    // Every process asked until it was refused, which it is only with no token left: none wasted.
    expect(granted).toBe(limit);
    // Batches, not a write per request.
    expect(table.calls()).toBeLessThan(limit / 4);
  });

  it("refuses while another process holds unspent tokens, at most two batches of them", async () => {
    const limit = 2_000;
    const table = sharedCounter();
    const busy = new RequestTokens(table.reserve);
    const idle = new RequestTokens(table.reserve);
    // `idle` serves a burst and then no more requests this minute, keeping what it reserved.
    let idleGranted = 0;
    for (let round = 0; round < 5; round++)
      idleGranted += (await Promise.all(Array.from({ length: 30 }, () => idle.take("t", limit, T0)))).filter(
        (r) => r.granted,
      ).length;
    await new Promise((resolve) => setTimeout(resolve, 5));
    let busyGranted = 0;
    for (;;) {
      const taken = await busy.take("t", limit, T0 + 10_000);
      if (!taken.granted) break;
      busyGranted++;
    }
    const unspent = limit - idleGranted - busyGranted;
    expect(table.count("t", T0)).toBe(limit);
    expect(unspent).toBeGreaterThanOrEqual(0);
    expect(unspent).toBeLessThanOrEqual(2 * batchFor(limit));
  });

  it("keeps a busy process off the table: the next batch is reserved before this one runs out", async () => {
    // Each write takes 3 ms; requests come one every millisecond or so.
    const table = sharedCounter({ delayMs: () => 3 });
    const p = new RequestTokens(table.reserve);
    let waited = 0;
    for (let i = 0; i < 1_000; i++) {
      const started = performance.now();
      expect((await p.take("t", 6_000, T0)).granted).toBe(true);
      if (performance.now() - started >= 2) waited++;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    // Only the first few (while the batch grows: 1, 1, 2, 4…) wait for the table.
    expect(waited).toBeLessThan(8);
    expect(table.calls()).toBeLessThan(1_000 / 20);
  });

  it("follows a changed limit: tokens held under a higher one are dropped, a raised one grants again", async () => {
    const table = sharedCounter();
    const p = new RequestTokens(table.reserve);
    for (let i = 0; i < 50; i++) await p.take("t", 1_000, T0);
    // Lowered to what is already counted: the tokens this process holds are not spent.
    const counted = table.count("t", T0);
    expect(counted).toBeGreaterThan(50);
    expect((await p.take("t", counted, T0)).granted).toBe(false);
    // Raised again: the minute has room once more.
    expect((await p.take("t", counted + 5, T0)).granted).toBe(true);
  });

  it("fails the request whose reservation failed (as the write per request did); the next one tries again", async () => {
    const table = sharedCounter();
    const p = new RequestTokens(table.reserve);
    table.failNext();
    await expect(p.take("t", 5, T0)).rejects.toThrow("table unavailable");
    expect((await p.take("t", 5, T0)).granted).toBe(true);
  });
});
