/**
 * A tenant's request rate counted in the table without a write per request: each process reserves
 * tokens from the tenant's minute counter in batches (one conditional `ADD n :k` under
 * `n <= limit - k`) and spends them locally. The counter only ever holds tokens handed out, so
 * no more than `limit` requests are granted in a minute across all processes, exactly as with one
 * write per request. What batching costs is the other direction: a request can be refused while
 * other processes still hold tokens they have not spent, at most two batches (`batchFor(limit)`)
 * each, and those lapse with the minute (docs/decisions/0010-tenant-limits-and-budgets.md).
 *
 * A batch starts at one token and doubles with what the process has already used this minute, up to
 * `batchFor(limit)`: a process that sees one request a minute reserves one token at a time, a busy
 * one reserves the most. With batches above one token, the next batch is reserved in the
 * background when half of the current one is left, so requests rarely wait for the table; with
 * one-token batches (small limits), every request waits for its own write, as before, and the
 * counter is exact.
 */

/** What one reservation got: tokens granted (0 when the minute is full) and the minute's count after it. */
export interface Reservation {
  got: number;
  count: number;
}

/** Reserves up to `want` tokens of `limit` in the tenant's minute starting `windowStart`. */
export type ReserveTokens = (
  tenantId: string,
  windowStart: number,
  want: number,
  limit: number,
) => Promise<Reservation>;

export const WINDOW_MS = 60_000;

/**
 * The most tokens one process holds for a tenant: 1% of the limit (so a default 6,000 a minute is
 * reserved 60 at a time), one for limits under 200, where every request is its own write.
 */
export const batchFor = (limit: number): number => Math.max(1, Math.floor(limit / 100));

/** Windows kept per process at most (one per tenant seen this minute); older minutes are dropped first. */
const MAX_WINDOWS = 10_000;

interface TenantWindow {
  start: number;
  /** The limit the tokens were reserved under. */
  limit: number;
  /** Reserved here, not yet spent. */
  tokens: number;
  /** Reserved here this minute in all. */
  reserved: number;
  /** The counter as the last reservation saw it (every process's tokens, spent or not). */
  count: number;
  /** The limit at which the table said the minute is full: refused here without a write until it rises. */
  fullAt: number | null;
  /** Requests here waiting for a token, and tokens asked for by reservations in flight. */
  waiting: number;
  inFlight: number;
  /** Woken when a reservation lands. */
  wakers: (() => void)[];
}

export interface TakeResult {
  granted: boolean;
  /** What is left this minute as this process knows it: the limit less the counter, plus its own unspent tokens. */
  remaining: number;
  resetAtMs: number;
}

export class RequestTokens {
  readonly #reserve: ReserveTokens;
  readonly #windows = new Map<string, TenantWindow>();
  #latestStart = 0;

  constructor(reserve: ReserveTokens) {
    this.#reserve = reserve;
  }

  async take(tenantId: string, limit: number, nowMs: number): Promise<TakeResult> {
    const start = Math.floor(nowMs / WINDOW_MS) * WINDOW_MS;
    const resetAtMs = start + WINDOW_MS;
    const w = this.#window(tenantId, start, limit);
    w.waiting++;
    let granted = false;
    try {
      for (;;) {
        if (limit < w.limit) w.tokens = 0; // lowered since they were reserved: spend none of them
        w.limit = limit;
        if (w.fullAt !== null && limit > w.fullAt) w.fullAt = null;
        if (w.tokens > 0) {
          w.tokens--;
          granted = true;
          return { granted, remaining: Math.max(0, limit - w.count + w.tokens), resetAtMs };
        }
        // The counter never goes down within its minute: once full, it stays full.
        if (w.fullAt !== null) return { granted, remaining: 0, resetAtMs };
        if (w.inFlight < w.waiting) await this.#reserveNow(tenantId, w, this.#batch(w));
        else await new Promise<void>((resolve) => w.wakers.push(resolve));
      }
    } finally {
      w.waiting--;
      if (granted) this.#maybeReserveAhead(tenantId, w);
    }
  }

  #window(tenantId: string, start: number, limit: number): TenantWindow {
    const key = `${tenantId} ${start}`;
    const found = this.#windows.get(key);
    if (found) return found;
    if (start > this.#latestStart) {
      // A new minute: the windows of minutes before the previous one are of no use any more.
      this.#latestStart = start;
      for (const [other, w] of this.#windows) if (w.start < start - WINDOW_MS) this.#windows.delete(other);
    }
    // More tenants in two minutes than kept: forgetting windows only costs their unspent tokens.
    if (this.#windows.size >= MAX_WINDOWS) this.#windows.clear();
    const created: TenantWindow = {
      start,
      limit,
      tokens: 0,
      reserved: 0,
      count: 0,
      fullAt: null,
      waiting: 0,
      inFlight: 0,
      wakers: [],
    };
    this.#windows.set(key, created);
    return created;
  }

  /**
   * The next batch: enough for the requests waiting that no reservation covers yet, and what was
   * used here so far this minute (so it doubles), at most the batch bound.
   */
  #batch(w: TenantWindow): number {
    const most = batchFor(w.limit);
    return Math.max(1, Math.min(most, Math.max(w.waiting - w.inFlight, w.reserved)));
  }

  async #reserveNow(tenantId: string, w: TenantWindow, want: number): Promise<void> {
    w.inFlight += want;
    try {
      const { got, count } = await this.#reserve(tenantId, w.start, want, w.limit);
      w.tokens += got;
      w.reserved += got;
      w.count = Math.max(w.count, count);
      if (got === 0) w.fullAt = w.limit;
    } finally {
      w.inFlight -= want;
      for (const wake of w.wakers.splice(0)) wake();
    }
  }

  /**
   * With batches above one token and nobody waiting: the next batch is reserved once half of this
   * one is spent, so a busy process rarely makes a request wait for the table.
   */
  #maybeReserveAhead(tenantId: string, w: TenantWindow): void {
    const most = batchFor(w.limit);
    if (most <= 1 || w.inFlight > 0 || w.waiting > 0 || w.fullAt !== null) return;
    if (w.tokens > Math.floor(Math.min(most, w.reserved) / 2)) return;
    const want = Math.max(1, Math.min(most, w.reserved) - w.tokens);
    // A failed reservation ahead costs nothing: the next request that finds no token tries again.
    void this.#reserveNow(tenantId, w, want).catch(() => undefined);
  }
}
