import { randomUUID } from "node:crypto";
import { needsAttention, type Job } from "#shared/domain/job.ts";
import type { Deps } from "#shared/ports.ts";
import { METRIC_OLDEST_DUE_AGE } from "#shared/metrics.ts";
import { advanceJob } from "#shared/use-cases/advance-job.ts";
import { sleep } from "#shared/sleep.ts";
import { forEachLimited } from "./concurrency.ts";

export interface PollerOptions {
  /** Identifies this invocation in shard leases. */
  owner?: string;
  /** Time between ticks (real time). */
  tickMs?: number;
  /** How long a shard lease lasts; renewed at half-life. A dead poller's shards free up after it. */
  leaseMs?: number;
  /** Upstream calls in flight at once. */
  concurrency?: number;
  /** Due-index reads after the first look back this far, to catch entries the index showed late. */
  overlapMs?: number;
  log?: (event: Record<string, unknown>) => void;
}

interface Scheduled {
  shard: number;
  nextAt: number;
  /**
   * When this poller took the job on. An index `dueAt` can be long past (polls that change
   * nothing write nothing), so lag is counted from here, not from it.
   */
  loadedAt: number;
  /** Our copy; null means read it afresh before acting. */
  job: Job | null;
  transientFailures: number;
}

export interface TickReport {
  ownedShards: number;
  scheduled: number;
  advanced: number;
  errors: number;
}

/**
 * The poller. EventBridge starts one invocation a minute; `run()` ticks every few seconds until
 * its budget is spent. For the shards it leases it keeps the schedule in memory, so a poll that
 * changes nothing costs an upstream GET and no DynamoDB write.
 */
export class Poller {
  readonly owner: string;
  readonly #deps: Deps;
  readonly #tickMs: number;
  readonly #leaseMs: number;
  readonly #concurrency: number;
  readonly #overlapMs: number;
  readonly #log: (event: Record<string, unknown>) => void;
  readonly #leases = new Map<number, number>(); // shard -> lease until
  readonly #watermarks = new Map<number, number>(); // shard -> last due-index read up to
  readonly #schedule = new Map<string, Scheduled>();
  /** Total job steps taken (the benchmark reads it). */
  advancedTotal = 0;

  constructor(deps: Deps, options: PollerOptions = {}) {
    this.#deps = deps;
    this.owner = options.owner ?? `poller-${randomUUID()}`;
    this.#tickMs = options.tickMs ?? 2_000;
    this.#leaseMs = options.leaseMs ?? 60_000;
    this.#concurrency = options.concurrency ?? 16;
    this.#overlapMs = options.overlapMs ?? 15_000;
    this.#log = options.log ?? (() => {});
  }

  get scheduledCount(): number {
    return this.#schedule.size;
  }

  /** One pass. With `deadline` (real ms), no new job is started after it: the rest waits for the next tick. */
  async tick(options: { deadline?: number } = {}): Promise<TickReport> {
    const now = this.#deps.clock.now();
    await this.#renewLeases(now);
    await Promise.all([...this.#leases.keys()].map((shard) => this.#load(shard, now)));

    const due = [...this.#schedule]
      .filter(([, entry]) => entry.nextAt <= now)
      .sort(([, a], [, b]) => a.nextAt - b.nextAt);
    // Poller lag: how long the most overdue job has waited past its time here (alarmed on in AWS).
    const lag = due.reduce((worst, [, entry]) => Math.max(worst, now - Math.max(entry.nextAt, entry.loadedAt)), 0);
    this.#deps.metrics.emit(METRIC_OLDEST_DUE_AGE, Math.round(lag / 1000), "Seconds");
    let advanced = 0;
    let errors = 0;
    await forEachLimited(due, this.#concurrency, async ([id, entry]) => {
      if (options.deadline !== undefined && Date.now() >= options.deadline) return;
      try {
        await this.#advance(id, entry);
        advanced++;
      } catch (error) {
        errors++;
        entry.job = null; // re-read next time: the failure may have left our copy stale
        entry.nextAt = this.#deps.clock.now() + 5_000;
        this.#log({
          level: "error",
          msg: "advancing a job failed",
          jobId: id,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    });
    this.advancedTotal += advanced;
    return { ownedShards: this.#leases.size, scheduled: this.#schedule.size, advanced, errors };
  }

  /** Ticks until `budgetMs` (real time) is nearly spent, then hands its shards back. */
  async run(options: { budgetMs: number; signal?: AbortSignal }): Promise<{ ticks: number; advanced: number }> {
    const started = Date.now();
    let ticks = 0;
    const before = this.advancedTotal;
    try {
      while (!options.signal?.aborted) {
        const tickStarted = Date.now();
        // Leave room for the last jobs in flight (an upstream call can take up to its timeout).
        await this.tick({ deadline: started + options.budgetMs - this.#tickMs });
        ticks++;
        const wait = Math.max(0, this.#tickMs - (Date.now() - tickStarted));
        // Stop when another full tick would not fit: the next invocation takes over cleanly.
        if (Date.now() - started + wait + this.#tickMs > options.budgetMs) break;
        await sleep(wait, options.signal);
      }
    } finally {
      await this.releaseAll();
    }
    return { ticks, advanced: this.advancedTotal - before };
  }

  async releaseAll(): Promise<void> {
    await Promise.all(
      [...this.#leases.keys()].map((shard) =>
        this.#deps.leases.release(`due-${shard}`, this.owner).catch(() => undefined),
      ),
    );
    this.#leases.clear();
    this.#watermarks.clear();
    this.#schedule.clear();
  }

  async #renewLeases(now: number): Promise<void> {
    await Promise.all(
      Array.from({ length: this.#deps.jobs.shards }, async (_, shard) => {
        const until = this.#leases.get(shard);
        if (until !== undefined && until - now > this.#leaseMs / 2) return;
        const ok = await this.#deps.leases.acquire(`due-${shard}`, this.owner, now + this.#leaseMs, now);
        if (ok) this.#leases.set(shard, now + this.#leaseMs);
        else if (until !== undefined) this.#dropShard(shard);
      }),
    );
  }

  #dropShard(shard: number): void {
    this.#leases.delete(shard);
    this.#watermarks.delete(shard);
    for (const [id, entry] of this.#schedule) if (entry.shard === shard) this.#schedule.delete(id);
  }

  async #load(shard: number, now: number): Promise<void> {
    const watermark = this.#watermarks.get(shard);
    const from = watermark === undefined ? 0 : watermark - this.#overlapMs;
    const entries = await this.#deps.jobs.queryDue(shard, from, now + this.#tickMs);
    this.#watermarks.set(shard, now);
    for (const { id, dueAt, version } of entries) {
      const known = this.#schedule.get(id);
      if (!known) {
        this.#schedule.set(id, { shard, nextAt: dueAt, loadedAt: now, job: null, transientFailures: 0 });
      } else if (known.job && version > known.job.version) {
        // Someone else wrote it (a cancel, OpenAI's webhook asking for a look now): read it afresh.
        known.job = null;
        known.nextAt = Math.min(known.nextAt, dueAt);
      }
    }
  }

  async #advance(id: string, entry: Scheduled): Promise<void> {
    const job = entry.job ?? (await this.#deps.jobs.get(id));
    if (!job || !needsAttention(job)) {
      this.#schedule.delete(id);
      return;
    }
    const step = await advanceJob(job, this.#deps, { transientFailures: entry.transientFailures });
    if (step.nextAt === null) {
      this.#schedule.delete(id);
      return;
    }
    entry.job = step.job;
    entry.nextAt = step.nextAt;
    entry.transientFailures = step.transient ? entry.transientFailures + 1 : 0;
  }
}
