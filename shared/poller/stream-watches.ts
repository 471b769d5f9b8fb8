import { isJobStatus, isTerminal, type Job } from "#shared/domain/job.ts";
import { LIFECYCLE_EVENT_TYPES } from "#shared/domain/stream-events.ts";
import type { Deps, UpstreamResponse } from "#shared/ports.ts";
import { retryOnConflict } from "#shared/use-cases/conflict-retry.ts";
import { applyUpstream } from "#shared/use-cases/job-transitions.ts";
import { readUpstreamStream } from "#shared/use-cases/read-upstream-stream.ts";
import { sleepOnClock } from "#shared/sleep.ts";

/**
 * Why a watch stopped on its own. `ended`: it recorded the job's end (or found it ended or gone).
 * `refused`: the upstream will not stream the response (4xx, e.g. "more than 5 minutes old").
 * `failing`: connections keep failing without news, or a job write failed. `closed`: the upstream
 * closed the stream with nothing new and no end (a cancel, a proxy): someone must look.
 */
export type WatchEnd = "ended" | "refused" | "failing" | "closed";

export interface WatchHooks {
  /** A watch wrote the job (a status change, or its end). */
  recorded(job: Job): void;
  /** A watch stopped without being told to: the job goes back to polling (unless it ended). */
  ended(jobId: string, why: WatchEnd): void;
}

export interface WatchOptions {
  /** Streams held at once; `start` refuses past it (the job is polled instead). */
  max: number;
  /** Waits (clock ms) before the retries after a connection that failed without news. */
  reconnectDelaysMs?: readonly number[];
}

interface Watch {
  job: Job;
  /** The upstream number of the last event seen: a resume continues after it. -1: none yet. */
  cursor: number;
  controller: AbortController;
  done: Promise<void>;
}

type Outcome = "ended" | "refused" | "closed" | "progress" | "quiet" | "failed";

/**
 * The upstream streams the poller holds: one connection per running job created streaming, read
 * only for its lifecycle (deltas are skipped, not stored), so the end is recorded the moment the
 * upstream sends it, with no polling meanwhile. A dropped connection resumes after the last
 * sequence number seen; the cursors are handed to the next poller invocation with the shard
 * leases (`Poller.releaseAll`). Every write goes through `applyUpstream`, fenced by the job's
 * version, so two holders of one stream (the minute handover) record each change once.
 */
export class StreamWatches {
  readonly #deps: Deps;
  readonly #hooks: WatchHooks;
  readonly #max: number;
  readonly #delays: readonly number[];
  readonly #watches = new Map<string, Watch>();
  /** Watches told to `stop` that are still winding down (a write in flight), for `stopAll`. */
  readonly #stopping = new Set<Promise<void>>();

  constructor(deps: Deps, hooks: WatchHooks, options: WatchOptions) {
    this.#deps = deps;
    this.#hooks = hooks;
    this.#max = options.max;
    this.#delays = options.reconnectDelaysMs ?? [1_000, 2_000, 4_000];
  }

  get size(): number {
    return this.#watches.size;
  }

  has(jobId: string): boolean {
    return this.#watches.has(jobId);
  }

  /** Starts holding the job's upstream stream after `cursor`. False when full: poll it instead. */
  start(job: Job, cursor = -1): boolean {
    if (this.#watches.has(job.id)) return true;
    if (this.#watches.size >= this.#max || !job.upstreamId) return false;
    const watch: Watch = { job, cursor, controller: new AbortController(), done: Promise.resolve() };
    this.#watches.set(job.id, watch);
    watch.done = this.#run(watch);
    return true;
  }

  /** Each held job's cursor, for the next holder. */
  cursors(jobIds: Iterable<string> = this.#watches.keys()): Record<string, number> {
    const out: Record<string, number> = {};
    for (const id of jobIds) {
      const cursor = this.#watches.get(id)?.cursor ?? -1;
      if (cursor >= 0) out[id] = cursor;
    }
    return out;
  }

  /**
   * Closes the job's stream and forgets it at once: the job ended by another path (a cancel, a
   * poll), so the stream has nothing left to tell. Nothing is reported for it, so the job is not
   * turned to polling.
   */
  stop(jobId: string): void {
    const watch = this.#watches.get(jobId);
    if (!watch) return;
    this.#watches.delete(jobId);
    watch.controller.abort();
    const done = watch.done;
    const forget = () => this.#stopping.delete(done);
    this.#stopping.add(done);
    done.then(forget, forget);
  }

  /** Closes every stream and waits for the watches to wind down (nothing is reported for them). */
  async stopAll(): Promise<void> {
    const all = [...this.#watches.values()];
    for (const watch of all) watch.controller.abort();
    await Promise.all([...all.map((w) => w.done), ...this.#stopping]);
  }

  async #run(watch: Watch): Promise<void> {
    const signal = watch.controller.signal;
    let failures = 0;
    let why: WatchEnd | null = null;
    try {
      while (!signal.aborted && why === null) {
        const outcome = await this.#connect(watch);
        if (outcome === "ended" || outcome === "refused" || outcome === "closed") why = outcome;
        else if (outcome === "progress" || outcome === "quiet") failures = 0;
        else if (++failures > this.#delays.length) why = "failing";
        else await sleepOnClock(this.#deps.clock, this.#delays[failures - 1]!, signal);
      }
    } catch {
      why = "failing"; // a job write failed: the poller's next look settles it
    } finally {
      // `stop` may have forgotten it already (and a new watch of the job may have started since).
      if (this.#watches.get(watch.job.id) === watch) this.#watches.delete(watch.job.id);
    }
    if (why !== null && !signal.aborted) this.#hooks.ended(watch.job.id, why);
  }

  /** One upstream connection, read until it ends, breaks, or shows the job's end. */
  async #connect(watch: Watch): Promise<Outcome> {
    const end = await readUpstreamStream(this.#deps.upstream, watch.job.upstreamId!, watch.controller.signal, {
      cursor: () => watch.cursor,
      onEvent: async (event) => {
        watch.cursor = event.sequence_number;
        if (!LIFECYCLE_EVENT_TYPES.has(event.type) || !event.response) return false;
        return this.#apply(watch, event.response);
      },
    });
    return end === "stopped" ? "ended" : end;
  }

  /** Records a status the stream announced. True when the job has ended (or is gone). */
  async #apply(watch: Watch, snapshot: unknown): Promise<boolean> {
    const response = snapshot as UpstreamResponse;
    if (!isJobStatus(response.status)) return false;
    if (!isTerminal(response.status) && response.status === watch.job.status) return false;
    const step = await retryOnConflict(
      watch.job,
      this.#deps,
      async (current) => {
        if (isTerminal(current.status)) return { job: current, nextAt: null };
        return applyUpstream(current, response, this.#deps, { watching: true });
      },
      { onGone: () => null },
    );
    if (!step) return true;
    const changed = step.job.version !== watch.job.version;
    watch.job = step.job;
    if (changed) this.#hooks.recorded(step.job);
    return isTerminal(step.job.status);
  }
}
