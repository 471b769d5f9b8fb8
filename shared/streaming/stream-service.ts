import { randomUUID } from "node:crypto";
import type { Job, JobStatus } from "#shared/domain/job.ts";
import { statusLabel, streamLabel, type StreamPhase } from "#shared/domain/labels.ts";
import type { Log } from "#shared/log.ts";
import type { Deps, EventBatch, StreamEvent } from "#shared/ports.ts";
import { LIFECYCLE_EVENT_TYPES, TERMINAL_EVENT_TYPES } from "#shared/domain/stream-events.ts";
import { DEFAULT_PUMP_SETTINGS, StreamPump, type PumpSettings } from "./stream-pump.ts";
import { isEmulated } from "./emulated-worker.ts";
import { isTerminal } from "#shared/domain/job.ts";
import { LogWriter } from "./log-writer.ts";
import { wireResponse } from "#shared/domain/response-view.ts";
import { sleepOnClock } from "#shared/sleep.ts";

/** What a stream hands its caller: an OpenAI event, or the relay's own status (an SSE comment). */
export type StreamChunk =
  | { kind: "event"; event: StreamEvent }
  | { kind: "status"; status: string; phase: StreamPhase; label: string };

export interface StreamSettings extends PumpSettings {
  /** The writer lease (clock ms): one instance reads a job's upstream at a time. */
  leaseMs: number;
  /** Real ms between store reads while another instance writes the log. */
  tailMs: number;
  /** Recently written batches kept in memory for this process's readers. */
  recentBatches: number;
}

export const DEFAULT_STREAM_SETTINGS: StreamSettings = {
  ...DEFAULT_PUMP_SETTINGS,
  leaseMs: 30_000,
  tailMs: 400,
  recentBatches: 32,
};

/** Real ms between attempts to take a writer lease someone else holds. */
const CLAIM_RETRY_MS = 1000;

/**
 * Live streams. Every caller is served from the job's stored event log, never straight from the
 * upstream, so concurrent callers (in one process or on several instances) see the same numbers
 * and content, and a caller can resume from any number for the job's whole retention. While a
 * job has callers, one instance (the writer lease holder) reads the upstream into the log; in
 * this process its readers are woken as batches land, elsewhere they re-read the store.
 */
export class StreamService {
  readonly #deps: Deps;
  readonly #settings: StreamSettings;
  readonly #log: Log;
  readonly #owner = `stream-${randomUUID()}`;
  readonly #feeds = new Map<string, JobFeed>();

  constructor(deps: Deps, options: { settings?: Partial<StreamSettings>; log?: Log } = {}) {
    this.#deps = deps;
    this.#settings = { ...DEFAULT_STREAM_SETTINGS, ...options.settings };
    this.#log = options.log ?? (() => {});
  }

  /** Events after `afterSeq` (-1: from the start) until the stream ends or the reader stops. */
  async *follow(job: Job, afterSeq: number, signal?: AbortSignal): AsyncGenerator<StreamChunk> {
    const feed = this.#acquire(job.id);
    // The relay's own worker writes such a job's log: readers here follow the store instead.
    if (isEmulated(job, this.#deps)) feed.external = true;
    let cursor = afterSeq;
    let status: string = job.status;
    let shownPhase: StreamPhase = "live";
    try {
      yield { kind: "status", status, phase: "live", label: statusLabel(job) };
      let readStore = true;
      while (!signal?.aborted) {
        let batches = feed.batchesHolding(cursor + 1);
        if (!batches && (readStore || feed.knownNext > cursor + 1)) {
          batches = await feed.readShared(cursor, () => this.#deps.eventLog.read(job.id, cursor));
          feed.learn(batches);
          // The log is written without gaps; never skip a number if it somehow had one.
          if (batches.length > 0 && batches[0]!.first > cursor + 1)
            throw new Error(`the stream log of ${job.id} has no event ${cursor + 1}`);
        }
        readStore = false;
        let progressed = false;
        for (const batch of batches ?? []) {
          for (const event of batch.events) {
            if (event.sequence_number <= cursor) continue;
            yield { kind: "event", event };
            cursor = event.sequence_number;
            progressed = true;
            if (LIFECYCLE_EVENT_TYPES.has(event.type)) {
              const next = (event.response as { status?: string } | undefined)?.status ?? status;
              if (next !== status || shownPhase !== "live")
                yield { kind: "status", status: next, phase: "live", label: streamLabel(next as JobStatus) };
              status = next;
              shownPhase = "live";
            }
          }
          // (A cursor past the end of a finished log gets nothing more: the stream just closes.)
          if (batch.end && cursor >= batch.first + batch.events.length - 1) {
            const last = batch.events[batch.events.length - 1];
            // A log that somehow ended without a terminal event: say how the job ended.
            if (!last || !TERMINAL_EVENT_TYPES.has(last.type))
              yield {
                kind: "status",
                status: batch.end.status,
                phase: "live",
                label: streamLabel(batch.end.status as JobStatus),
              };
            return;
          }
        }
        // What this process's writer is doing (reconnecting, polling), when it changes.
        if (feed.phase !== shownPhase) {
          shownPhase = feed.phase;
          yield { kind: "status", status, phase: shownPhase, label: streamLabel(status as JobStatus, shownPhase) };
        }
        if (progressed || readStore) continue;
        this.#ensureWriter(feed);
        await feed.changed(feed.writing ? 5_000 : this.#settings.tailMs, signal);
        // Without a writer here the log grows elsewhere (or not yet): look at the store again.
        readStore = !feed.writing;
      }
    } finally {
      this.#release(feed);
    }
  }

  #acquire(jobId: string): JobFeed {
    let feed = this.#feeds.get(jobId);
    if (!feed) this.#feeds.set(jobId, (feed = new JobFeed(jobId, this.#settings.recentBatches)));
    feed.readers += 1;
    return feed;
  }

  #release(feed: JobFeed): void {
    feed.readers -= 1;
    if (feed.readers > 0) return;
    // Nobody is listening: stop reading the upstream (the log keeps what was written).
    if (this.#feeds.get(feed.jobId) === feed) this.#feeds.delete(feed.jobId);
    feed.writer?.abort();
    feed.stopFinisher?.();
  }

  /** Starts this process's writer for the job if the lease is free (or ours); never throws. */
  #ensureWriter(feed: JobFeed): void {
    if (feed.external) {
      this.#ensureFinisher(feed);
      return;
    }
    if (feed.writing || feed.claiming || feed.ended || feed.readers === 0) return;
    if (Date.now() - feed.lastClaimFailedAt < CLAIM_RETRY_MS) return;
    feed.claiming = true;
    void this.#claim(feed)
      .then((claimed) => {
        if (!claimed) {
          feed.lastClaimFailedAt = Date.now();
          return;
        }
        this.#startWriter(feed);
      })
      .catch((error) => {
        feed.lastClaimFailedAt = Date.now();
        this.#log({ level: "error", msg: "stream lease failed", jobId: feed.jobId, error: String(error) });
      })
      .finally(() => {
        feed.claiming = false;
        feed.notify();
      });
  }

  #startWriter(feed: JobFeed): void {
    if (feed.readers === 0) {
      void this.#deps.leases.release(leaseName(feed.jobId), this.#owner).catch(() => undefined);
      return;
    }
    const controller = new AbortController();
    feed.writer = controller;
    const pump = new StreamPump(this.#deps, feed.jobId, this.#settings, {
      appended: (batch) => feed.publish(batch),
      phase: (phase) => feed.setPhase(phase),
      keepLease: () => this.#keepLease(feed),
    });
    void pump
      .run(controller.signal)
      .catch((error) =>
        this.#log({
          level: "error",
          msg: "stream writer failed",
          jobId: feed.jobId,
          error: error instanceof Error ? error.message : String(error),
        }),
      )
      .finally(async () => {
        if (feed.writer === controller) feed.writer = null;
        feed.setPhase("live");
        await this.#deps.leases.release(leaseName(feed.jobId), this.#owner).catch(() => undefined);
        feed.notify();
      });
  }

  /**
   * For a job the relay's worker writes: nothing to read upstream, but the log must still end
   * when the job ends without its worker (a cancel or deadline while no worker held it, a worker
   * that died): then the rest of the stream is written from the final Response, as for any job.
   * Appends are conditional, so racing the worker's own end is harmless.
   */
  #ensureFinisher(feed: JobFeed): void {
    if (feed.finishing || feed.ended || feed.readers === 0) return;
    feed.finishing = true;
    const stop = new AbortController();
    feed.stopFinisher = () => stop.abort();
    void (async () => {
      let endedAt: number | null = null;
      while (!stop.signal.aborted && !feed.ended && feed.readers > 0) {
        const job = await this.#deps.jobs.get(feed.jobId);
        if (!job) return;
        if (isTerminal(job.status)) {
          // One poll of grace: a live worker usually ends its own log right after the job.
          if (endedAt !== null) {
            const writer = new LogWriter(this.#deps.eventLog, feed.jobId, this.#settings, (batch) =>
              feed.publish(batch),
            );
            try {
              await writer.init();
              if (!writer.ended) {
                const request = await this.#deps.jobs.getRequest(job);
                await writer.finish(wireResponse(job, await this.#deps.jobs.getOutput(job), request), job.status);
              }
            } finally {
              writer.close();
            }
            return;
          }
          endedAt = this.#deps.clock.now();
        }
        await sleepOnClock(this.#deps.clock, this.#settings.pollIntervalMs, stop.signal);
      }
    })()
      .catch((error) =>
        this.#log({ level: "error", msg: "stream finisher failed", jobId: feed.jobId, error: String(error) }),
      )
      .finally(() => {
        feed.finishing = false;
        feed.stopFinisher = null;
        feed.notify();
      });
  }

  async #claim(feed: JobFeed): Promise<boolean> {
    const now = this.#deps.clock.now();
    const ok = await this.#deps.leases.acquire(leaseName(feed.jobId), this.#owner, now + this.#settings.leaseMs, now);
    if (ok) feed.leaseUntil = now + this.#settings.leaseMs;
    return ok;
  }

  /** Renews at half-life; false when another instance took the lease. */
  async #keepLease(feed: JobFeed): Promise<boolean> {
    if (feed.readers === 0) return false;
    const now = this.#deps.clock.now();
    if (feed.leaseUntil - now > this.#settings.leaseMs / 2) return true;
    return this.#claim(feed);
  }
}

const leaseName = (jobId: string) => `stream-${jobId}`;

/** One job's stream in this process: its readers, its writer, recent batches, wake-ups. */
class JobFeed {
  readers = 0;
  writer: AbortController | null = null;
  claiming = false;
  lastClaimFailedAt = -Infinity;
  leaseUntil = 0;
  /** Written by the relay's own worker (an upstream without background mode): never pumped here. */
  external = false;
  finishing = false;
  stopFinisher: (() => void) | null = null;
  phase: StreamPhase = "live";
  /** The next sequence number known to exist in the log (from writes here or reads). */
  knownNext = 0;
  ended = false;
  readonly #recent: EventBatch[] = [];
  readonly #limit: number;
  /** Pages read from the store, by the cursor they were read after (see readShared). */
  readonly #pages = new Map<number, Promise<EventBatch[]>>();
  #waiters = new Set<() => void>();

  constructor(
    readonly jobId: string,
    limit: number,
  ) {
    this.#limit = limit;
  }

  get writing(): boolean {
    return this.writer !== null;
  }

  publish(batch: EventBatch): void {
    this.#recent.push(batch);
    if (this.#recent.length > this.#limit) this.#recent.shift();
    this.learn([batch]);
    this.notify();
  }

  /**
   * A page of the log after `afterSeq`, shared by this process's readers of the job: the same
   * decoded batches (and, in sse-response.ts, the same encoded frames) serve every one of them, so
   * a reader costs references, not a copy of the log. Sound because stored batches never change:
   * a non-empty page after a given number is the same for everyone (an empty one is not kept: the
   * log may grow). A few pages are kept, the oldest dropped first.
   */
  readShared(afterSeq: number, load: () => Promise<EventBatch[]>): Promise<EventBatch[]> {
    const known = this.#pages.get(afterSeq);
    if (known) return known;
    const page = load().then((batches) => {
      if (batches.length === 0 && this.#pages.get(afterSeq) === page) this.#pages.delete(afterSeq);
      return batches;
    });
    page.catch(() => this.#pages.delete(afterSeq));
    this.#pages.set(afterSeq, page);
    if (this.#pages.size > 8) this.#pages.delete(this.#pages.keys().next().value!);
    return page;
  }

  learn(batches: EventBatch[]): void {
    for (const batch of batches) {
      this.knownNext = Math.max(this.knownNext, batch.first + batch.events.length);
      if (batch.end) this.ended = true;
    }
  }

  setPhase(phase: StreamPhase): void {
    if (phase === this.phase) return;
    this.phase = phase;
    this.notify();
  }

  /** Recent batches from the one holding `seq` on, if memory has it (and no gap follows). */
  batchesHolding(seq: number): EventBatch[] | null {
    const start = this.#recent.findIndex(
      (b) =>
        b.first <= seq && (seq < b.first + b.events.length || (b.end !== null && seq === b.first + b.events.length)),
    );
    if (start === -1) return null;
    const run = [this.#recent[start]!];
    for (let i = start + 1; i < this.#recent.length; i++) {
      const previous = run[run.length - 1]!;
      if (this.#recent[i]!.first !== previous.first + previous.events.length) break;
      run.push(this.#recent[i]!);
    }
    return run;
  }

  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Resolves on the next notify, after `ms` real ms, or on abort. */
  changed(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
      if (signal?.aborted) done();
    });
  }
}
