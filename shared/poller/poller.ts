import { randomUUID } from "node:crypto";
import { isDeliveryActive, isTerminal, needsAttention, type Job } from "#shared/domain/job.ts";
import { VersionConflictError } from "#shared/errors.ts";
import { withLogContext } from "#shared/log.ts";
import type { Deps } from "#shared/ports.ts";
import { METRIC } from "#shared/metrics.ts";
import { advanceJob } from "#shared/use-cases/advance-job.ts";
import { announceEnd } from "#shared/use-cases/announce-end.ts";
import { handToPush } from "#shared/use-cases/job-transitions.ts";
import { deliverWebhook } from "#shared/use-cases/deliver-webhook.ts";
import { sleep } from "#shared/sleep.ts";
import { forEachLimited } from "./concurrency.ts";
import { DeliveryLane, type DeliveryLaneLimits } from "./delivery-lane.ts";
import { fairShare } from "./fair-share.ts";
import { StreamWatches, type WatchEnd } from "./stream-watches.ts";

export interface PollerOptions {
  /** Identifies this invocation in shard leases. */
  owner?: string;
  /** Time between ticks (real time). */
  tickMs?: number;
  /** How long a shard lease lasts; renewed at half-life. A dead poller's shards free up after it. */
  leaseMs?: number;
  /** Upstream calls in flight at once (polls, cancels). */
  concurrency?: number;
  /** Upstream creates in flight at once (creates owed after a crash or a transient refusal): their own lane. */
  createConcurrency?: number;
  /** Bounds of the webhook lane: in all, per endpoint, per tenant. */
  delivery?: Partial<DeliveryLaneLimits>;
  /**
   * A tick returns only once the webhook sends in flight have ended. For step-by-step tests
   * under a manual clock, where "the tick that saw the end also sent its webhook" keeps
   * assertions simple; never in production, where it would let a slow receiver hold the tick.
   */
  awaitDeliveries?: boolean;
  /** Due-index reads after the first look back this far, to catch entries the index showed late. */
  overlapMs?: number;
  /**
   * Upstream streams held at once (0: none, every job is polled). A running job its upstream
   * created streaming (`Upstream.canWatch`) is watched on its stream instead of polled.
   */
  maxWatches?: number;
  /**
   * How long `run()` keeps its streams open after handing its shards back, so the next
   * invocation has taken them over (and opened its own) before these close: no unwatched gap.
   */
  handoverMs?: number;
  log?: (event: Record<string, unknown>) => void;
}

interface Scheduled {
  shard: number;
  nextAt: number;
  /**
   * Until when the job's shard was in a poller's hands before this one took it (0: nobody's).
   * An index `dueAt` can be long past only because polls that change nothing write nothing, and
   * the poller before kept the real schedule in memory; it cannot be past for longer than the
   * shard has been unattended. So lag counts from the later of the two: a job nobody looked at
   * for an hour reports an hour, a job handed over at the minute boundary reports seconds.
   */
  unattendedSince: number;
  /** Our copy; null means read it afresh before acting. */
  job: Job | null;
  transientFailures: number;
  /** Its webhook is in the delivery lane: the tick leaves it alone until the lane is done. */
  delivering: boolean;
  /** Its stream watch stopped short: polled from now on (the poll records that). */
  unwatchable?: boolean;
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
  readonly #createConcurrency: number;
  readonly #awaitDeliveries: boolean;
  readonly #lane: DeliveryLane;
  readonly #overlapMs: number;
  readonly #log: (event: Record<string, unknown>) => void;
  readonly #leases = new Map<number, number>(); // shard -> lease until
  readonly #heldBefore = new Map<number, number>(); // shard -> until when it was held before we took it
  readonly #watermarks = new Map<number, number>(); // shard -> last due-index read up to
  readonly #schedule = new Map<string, Scheduled>();
  readonly #watches: StreamWatches;
  readonly #handoverMs: number;
  /** Stream cursors the shards' previous holders left, by job id, until each watch starts. */
  readonly #cursors = new Map<string, number>();
  /** Total job steps taken (the benchmark reads it). */
  advancedTotal = 0;

  constructor(deps: Deps, options: PollerOptions = {}) {
    this.#deps = deps;
    this.owner = options.owner ?? `poller-${randomUUID()}`;
    this.#tickMs = options.tickMs ?? 2_000;
    this.#leaseMs = options.leaseMs ?? 60_000;
    this.#concurrency = options.concurrency ?? 16;
    this.#createConcurrency = options.createConcurrency ?? Math.max(2, Math.ceil(this.#concurrency / 4));
    this.#awaitDeliveries = options.awaitDeliveries ?? false;
    this.#lane = new DeliveryLane(options.delivery);
    this.#overlapMs = options.overlapMs ?? 15_000;
    this.#log = options.log ?? (() => {});
    this.#handoverMs = options.handoverMs ?? 5_000;
    this.#watches = new StreamWatches(
      deps,
      { recorded: (job) => this.#watchRecorded(job), ended: (id, why) => this.#watchEnded(id, why) },
      { max: options.maxWatches ?? 0 },
    );
  }

  /** Upstream streams this poller holds now. */
  get watchCount(): number {
    return this.#watches.size;
  }

  /** Whether this poller holds the job's upstream stream. */
  isWatching(jobId: string): boolean {
    return this.#watches.has(jobId);
  }

  get scheduledCount(): number {
    return this.#schedule.size;
  }

  /** Webhook sends in flight and waiting in the delivery lane. */
  get deliveries(): { inFlight: number; waiting: number } {
    return { inFlight: this.#lane.inFlight, waiting: this.#lane.waiting };
  }

  /** Resolves once the delivery lane has nothing in flight or waiting. */
  settled(): Promise<void> {
    return this.#lane.idle();
  }

  /** One pass. With `deadline` (real ms), no new job is started after it: the rest waits for the next tick. */
  async tick(options: { deadline?: number } = {}): Promise<TickReport> {
    const now = this.#deps.clock.now();
    await this.#renewLeases(now);
    await Promise.all([...this.#leases.keys()].map((shard) => this.#load(shard, now)));

    const due = [...this.#schedule]
      .filter(([, entry]) => entry.nextAt <= now && !entry.delivering)
      .sort(([, a], [, b]) => a.nextAt - b.nextAt);
    // Poller lag: how long the most overdue pending job has waited past its due time (alarmed on).
    const lag = due.reduce(
      (worst, [, entry]) => Math.max(worst, now - Math.max(entry.nextAt, entry.unattendedSince)),
      0,
    );
    this.#deps.metrics.emit(METRIC.oldestDueAge, Math.round(lag / 1000), "Seconds");
    // Final webhooks not yet acknowledged, among the jobs whose state this poller holds.
    const backlog = [...this.#schedule.values()].filter((entry) => isDeliveryActive(entry.job?.delivery ?? null));
    this.#deps.metrics.emit(METRIC.webhookBacklog, backlog.length, "Count");
    let advanced = 0;
    let errors = 0;
    // Creates and polls in lanes of their own, so a slow create cannot hold every poll (and
    // webhooks are in a third, not awaited here at all); within each, tenants take turns.
    const tenantOf = ([, entry]: [string, Scheduled]) => entry.job?.tenantId;
    const creates = fairShare(
      due.filter(([, entry]) => entry.job?.createState === "pending"),
      tenantOf,
    );
    const polls = fairShare(
      due.filter(([, entry]) => entry.job?.createState !== "pending"),
      tenantOf,
    );
    const work = async ([id, entry]: [string, Scheduled]) => {
      if (options.deadline !== undefined && Date.now() >= options.deadline) return;
      try {
        await withLogContext({ jobId: id }, () => this.#advance(id, entry));
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
    };
    await Promise.all([
      forEachLimited(creates, this.#createConcurrency, work),
      forEachLimited(polls, this.#concurrency, work),
    ]);
    if (this.#awaitDeliveries) await this.#lane.idle();
    this.advancedTotal += advanced;
    return { ownedShards: this.#leases.size, scheduled: this.#schedule.size, advanced, errors };
  }

  /**
   * Ticks until `budgetMs` (real time) is spent, then hands its shards back. `budgetMs` bounds when
   * work may *start*: no job step begins after it, and the steps in flight then finish within
   * their own timeouts (the caller keeps that much of the invocation in hand: window.ts).
   */
  async run(options: { budgetMs: number; signal?: AbortSignal }): Promise<{ ticks: number; advanced: number }> {
    const started = Date.now();
    const deadline = started + options.budgetMs;
    let ticks = 0;
    const before = this.advancedTotal;
    try {
      while (!options.signal?.aborted && Date.now() < deadline) {
        const tickStarted = Date.now();
        await this.tick({ deadline });
        ticks++;
        const wait = Math.max(0, this.#tickMs - (Date.now() - tickStarted));
        // Tick until the window closes, so the next invocation finds the shards free as it starts.
        if (Date.now() + wait >= deadline) break;
        await sleep(wait, options.signal);
      }
    } finally {
      // Sends already out finish (each within its timeout, which window.ts leaves room for);
      // waiting ones stay due in the table for the next invocation.
      this.#lane.stop();
      await this.#lane.idle();
      await this.releaseAll();
      // The next invocation takes the shards at its next tick and opens its own streams from the
      // cursors just left on the leases; these stay open until then.
      if (this.#watches.size > 0) await sleep(this.#handoverMs);
      await this.stopWatches();
    }
    return { ticks, advanced: this.advancedTotal - before };
  }

  /**
   * Hands the shards back by shortening each lease to now instead of deleting it: the next
   * poller can take it at once, and still reads until when the shard was attended. Each lease
   * carries the cursors of the streams held for its jobs; the streams themselves stay open
   * (the watches still record what they see) until `stopWatches()`.
   */
  async releaseAll(): Promise<void> {
    const now = this.#deps.clock.now();
    const watchedIn = (shard: number) =>
      [...this.#schedule].filter(([id, entry]) => entry.shard === shard && this.#watches.has(id)).map(([id]) => id);
    await Promise.all(
      [...this.#leases.keys()].map((shard) =>
        this.#deps.leases
          .acquire(`due-${shard}`, this.owner, now - 1, now, this.#watches.cursors(watchedIn(shard)))
          .catch(() => undefined),
      ),
    );
    this.#leases.clear();
    this.#heldBefore.clear();
    this.#watermarks.clear();
    this.#schedule.clear();
    this.#cursors.clear();
  }

  /** Closes every upstream stream this poller holds. */
  async stopWatches(): Promise<void> {
    await this.#watches.stopAll();
  }

  async #renewLeases(now: number): Promise<void> {
    await Promise.all(
      Array.from({ length: this.#deps.jobs.shards }, async (_, shard) => {
        const until = this.#leases.get(shard);
        if (until !== undefined && until - now > this.#leaseMs / 2) return;
        if (until === undefined) {
          // Read before taking it: afterwards the lease says "ours, from now".
          const held = await this.#deps.leases.lastHeld(`due-${shard}`);
          if (held !== null && held.until >= now) return; // someone else's, still live
          const ok = await this.#deps.leases.acquire(`due-${shard}`, this.owner, now + this.#leaseMs, now);
          if (!ok) return;
          this.#leases.set(shard, now + this.#leaseMs);
          this.#heldBefore.set(shard, held?.until ?? 0);
          for (const [id, cursor] of Object.entries(held?.handover ?? {})) this.#cursors.set(id, cursor);
          return;
        }
        const ok = await this.#deps.leases.acquire(`due-${shard}`, this.owner, now + this.#leaseMs, now);
        if (ok) this.#leases.set(shard, now + this.#leaseMs);
        else this.#dropShard(shard);
      }),
    );
  }

  #dropShard(shard: number): void {
    this.#leases.delete(shard);
    this.#heldBefore.delete(shard);
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
        const unattendedSince = this.#heldBefore.get(shard) ?? 0;
        this.#schedule.set(id, {
          shard,
          nextAt: dueAt,
          unattendedSince,
          job: null,
          transientFailures: 0,
          delivering: false,
        });
      } else if (known.job && version > known.job.version) {
        // Someone else wrote it (a cancel, OpenAI's webhook asking for a look now): read it afresh.
        known.job = null;
        known.nextAt = Math.min(known.nextAt, dueAt);
      }
    }
  }

  async #advance(id: string, entry: Scheduled): Promise<void> {
    let job = entry.job ?? (await this.#deps.jobs.get(id));
    // Ended (or gone) by another path, e.g. a cancel through the API: its stream has nothing left to say.
    if (!job || isTerminal(job.status)) this.#watches.stop(id);
    if (!job || !needsAttention(job)) {
      this.#schedule.delete(id);
      return;
    }
    if (await this.#watch(job, entry)) return;
    if (!webhookOnly(job)) {
      const step = await advanceJob(job, this.#deps, {
        transientFailures: entry.transientFailures,
        deliverNow: false,
        watching: this.#watches.has(id),
      });
      entry.transientFailures = step.transient ? entry.transientFailures + 1 : 0;
      job = step.job;
      entry.job = job;
      if (step.nextAt === null && !owesWebhook(job)) {
        this.#schedule.delete(id);
        return;
      }
      entry.nextAt = step.nextAt ?? job.delivery?.nextAttemptAt ?? this.#deps.clock.now();
      // This look ended it (a deadline cancel, a poll that found the end): let go of its stream.
      if (isTerminal(job.status)) this.#watches.stop(id);
      else if (this.#watches.has(id)) entry.nextAt = watchBackstop(job, this.#deps.clock.now());
    }
    // A webhook due now goes to the lane at once (the step that saw the end, not the next tick).
    const dueAt = job.delivery?.nextAttemptAt ?? 0;
    if (owesWebhook(job) && dueAt <= this.#deps.clock.now()) this.#deliver(id, entry, job);
    else if (owesWebhook(job)) entry.nextAt = Math.min(entry.nextAt, dueAt);
  }

  /**
   * Watches the job on its upstream stream instead of polling it, when it can be: created
   * streaming (`Upstream.canWatch`) and still `stream`-watched (a watch that stopped short turned
   * it to polling for good, `#watchEnded`). A watched job is looked at only at its backstop (its
   * deadlines: `watchBackstop`). True when this look is done.
   */
  async #watch(job: Job, entry: Scheduled): Promise<boolean> {
    const now = this.#deps.clock.now();
    const running = !isTerminal(job.status) && job.createState === "done" && !job.upstreamCancelPending;
    const backstop = watchBackstop(job, now);
    if (this.#watches.has(job.id)) {
      if (!running) return false;
      entry.job = job;
      if (now >= backstop) return false; // a deadline is due: the usual look enforces it
      entry.nextAt = backstop;
      return true;
    }
    if (!running || entry.unwatchable || job.watch !== "stream") return false;
    if (!job.upstreamId || !this.#deps.upstream.canWatch(job.upstreamId)) return false;
    if (now >= backstop) return false;
    if (now - job.createdAt >= PUSHED_WATCH_MS) {
      // OpenAI's webhooks carry the end from here: a stream resumed every minute would cost more
      // than the push backstop's few polls.
      const pushed = await handToPush(job, this.#deps);
      if (pushed) {
        entry.job = pushed.job;
        entry.nextAt = pushed.nextAt ?? now;
        return true;
      }
    }
    const cursor = this.#cursors.get(job.id);
    if (!this.#watches.start(job, cursor)) return false;
    this.#cursors.delete(job.id);
    entry.job = job;
    entry.nextAt = backstop;
    return true;
  }

  /** A watch wrote the job: an end's webhook goes out now, by this poller's lane while it has the job. */
  #watchRecorded(job: Job): void {
    const entry = this.#schedule.get(job.id);
    if (!entry) {
      // Handed over meanwhile (the minute boundary): sent at once all the same.
      if (isTerminal(job.status)) void announceEnd(job, this.#deps);
      return;
    }
    entry.job = job;
    if (!isTerminal(job.status)) return;
    entry.nextAt = this.#deps.clock.now();
    if (owesWebhook(job) && !entry.delivering && (job.delivery?.nextAttemptAt ?? 0) <= this.#deps.clock.now())
      this.#deliver(job.id, entry, job);
  }

  /**
   * A watch stopped short of the end: refused (past the upstream's resume window), failing, or
   * closed with nothing new. The job is polled now, on the usual schedule from here on; that
   * poll records the change of watch (and the label says so).
   */
  #watchEnded(id: string, why: WatchEnd): void {
    const entry = this.#schedule.get(id);
    if (!entry) return;
    entry.job = null;
    entry.nextAt = this.#deps.clock.now();
    if (why !== "ended") {
      entry.unwatchable = true;
      this.#log({ level: "info", msg: "stream watch stopped; polling", jobId: id, why });
    }
  }

  #deliver(id: string, entry: Scheduled, job: Job): void {
    entry.delivering = true;
    const offered = this.#lane.offer(job, async () => {
      try {
        const step = await withLogContext({ jobId: id }, () => deliverWebhook(job, this.#deps));
        if (this.#schedule.get(id) !== entry) return;
        if (!needsAttention(step.job)) this.#schedule.delete(id);
        else {
          entry.job = step.job;
          entry.nextAt = step.nextAt ?? this.#deps.clock.now();
        }
      } catch (error) {
        entry.job = null;
        // Written meanwhile (a cancel settled, another poller): look again at once.
        const conflict = error instanceof VersionConflictError;
        entry.nextAt = this.#deps.clock.now() + (conflict ? 0 : 5_000);
        if (conflict) return;
        this.#log({
          level: "error",
          msg: "delivering a webhook failed",
          jobId: id,
          error: error instanceof Error ? error.message : String(error),
        });
      } finally {
        entry.delivering = false;
      }
    });
    if (!offered) entry.delivering = false;
  }
}

/**
 * When to look at a watched job anyway: its queued limit while queued, its deadline while it
 * runs (both need a poll or a cancel, which the stream cannot do). Capped, so a watch that went
 * quiet unnoticed still costs a bounded wait.
 */
const WATCH_BACKSTOP_MAX_MS = 10 * 60_000;
/**
 * While OpenAI's webhooks arrive, a job is watched on its stream only in its first minute: short
 * jobs end on the stream (no look after OpenAI's event), longer ones go over to push.
 */
const PUSHED_WATCH_MS = 60_000;
function watchBackstop(job: Job, now: number): number {
  const limit = job.status === "queued" ? Math.min(job.queuedDeadlineAt, job.deadlineAt) : job.deadlineAt;
  return Math.min(limit, now + WATCH_BACKSTOP_MAX_MS);
}

/** An ended job whose webhook is its only business left. */
const owesWebhook = (job: Job): boolean => isTerminal(job.status) && isDeliveryActive(job.delivery);
const webhookOnly = (job: Job): boolean => owesWebhook(job) && !job.upstreamCancelPending;
