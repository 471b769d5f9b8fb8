import { isTerminal, type Job } from "#shared/domain/job.ts";
import { announceEnd } from "#shared/use-cases/announce-end.ts";
import { applyUpstream } from "#shared/use-cases/job-transitions.ts";
import { readUpstreamStream } from "#shared/use-cases/read-upstream-stream.ts";
import type { StreamPhase } from "#shared/domain/labels.ts";
import type { Deps, EventBatch, UpstreamResponse } from "#shared/ports.ts";
import { sleepOnClock } from "#shared/sleep.ts";
import { LogWriter, type LogWriterSettings } from "./log-writer.ts";
import { relayEvent } from "./relay-view.ts";
import { wireResponse } from "#shared/domain/response-view.ts";
import { TERMINAL_EVENT_TYPES } from "#shared/domain/stream-events.ts";

export interface PumpSettings extends LogWriterSettings {
  /** Waits (clock ms) before the tries that follow a failed connection; then polling. */
  reconnectDelaysMs: readonly number[];
  /** Clock ms between polls while the upstream stream is unavailable. */
  pollIntervalMs: number;
  /** While polling after failures (not a refusal), try the stream again after this (clock ms). */
  retryStreamAfterMs: number;
}

export const DEFAULT_PUMP_SETTINGS: PumpSettings = {
  reconnectDelaysMs: [1000, 2000, 4000],
  pollIntervalMs: 2000,
  retryStreamAfterMs: 30_000,
  flushMs: 150,
  maxBatchEvents: 64,
  maxBatchBytes: 128 * 1024,
};

export interface PumpHooks {
  appended(batch: EventBatch): void;
  phase(phase: StreamPhase): void;
  /** Keeps this instance's writer lease; false when another instance holds it now. */
  keepLease(): Promise<boolean>;
}

type Fallback = "refused" | "failing" | null;

/**
 * Reads one job's upstream stream into its log, whatever the upstream does: a dropped stream is
 * resumed after the last upstream number consumed (at once when the connection had delivered
 * something, else after 1 s, 2 s, 4 s); events at or below it are dropped. A refused resume
 * (e.g. "more than 5 minutes old") or one that keeps failing turns into polling, and once the
 * job has ended the relay writes the rest of the stream itself from the final Response.
 */
export class StreamPump {
  readonly #deps: Deps;
  readonly #jobId: string;
  readonly #settings: PumpSettings;
  readonly #hooks: PumpHooks;
  readonly #writer: LogWriter;
  /** The caller's request (for the caller-set fields in every Response snapshot), read once. */
  #request: Record<string, unknown> | null = null;

  constructor(deps: Deps, jobId: string, settings: PumpSettings, hooks: PumpHooks) {
    this.#deps = deps;
    this.#jobId = jobId;
    this.#settings = settings;
    this.#hooks = hooks;
    this.#writer = new LogWriter(deps.eventLog, jobId, settings, (batch) => hooks.appended(batch));
  }

  /** Runs until the log is complete, `signal` aborts, or another instance took the lease. */
  async run(signal: AbortSignal): Promise<void> {
    const writer = this.#writer;
    try {
      await writer.init();
      let failures = 0;
      let fallback: Fallback = null;
      while (!writer.ended && !signal.aborted) {
        if (!(await this.#hooks.keepLease())) return;
        const job = await this.#deps.jobs.get(this.#jobId);
        if (!job) return; // gone (retention or deleted): nothing left to stream
        this.#request ??= await this.#deps.jobs.getRequest(job);
        if (!job.upstreamId) {
          if (isTerminal(job.status)) await writer.finish(wireResponse(job, null, this.#request), job.status);
          else await sleepOnClock(this.#deps.clock, this.#settings.pollIntervalMs, signal);
          continue;
        }
        if (fallback) {
          const resumed = await this.#poll(job, fallback, signal);
          if (resumed) {
            fallback = null;
            failures = 0;
          }
          continue;
        }
        this.#hooks.phase(failures > 0 ? "reconnecting" : "live");
        const outcome = await this.#relay(job, signal);
        if (outcome === "progress" || outcome === "quiet") {
          failures = 0;
          continue;
        }
        if (outcome === "refused") {
          fallback = "refused";
          continue;
        }
        if (outcome === "closed") {
          // The upstream closed without a terminal event (a cancel, or a proxy): see whether it is over.
          if (await this.#finishIfOver(job)) continue;
        }
        // A finished job that cannot be replayed is written from its final Response at once.
        if (isTerminal(job.status)) {
          fallback = "refused";
          continue;
        }
        failures += 1;
        if (failures > this.#settings.reconnectDelaysMs.length) {
          fallback = "failing";
          continue;
        }
        this.#hooks.phase("reconnecting");
        await sleepOnClock(this.#deps.clock, this.#settings.reconnectDelaysMs[failures - 1]!, signal);
      }
    } finally {
      // Events still buffered were never served to anyone; writing them now saves a re-read.
      if (!writer.ended) await writer.flush().catch(() => undefined);
      writer.close();
    }
  }

  /**
   * The stream saw the end before the poller did: record it now (before the event is stored and
   * served), so the status endpoint agrees with what the caller is about to read, and hands the
   * caller's webhook to `deliverSoon` (not sent from the stream itself). Best effort; the poller
   * stays the backstop.
   */
  async #recordEnd(final: UpstreamResponse): Promise<void> {
    const job = await this.#deps.jobs.get(this.#jobId).catch(() => null);
    if (!job || isTerminal(job.status) || !job.upstreamId) return;
    const step = await applyUpstream(job, final, this.#deps).catch(() => null);
    if (step) await announceEnd(step.job, this.#deps);
  }

  /**
   * One upstream connection. `progress`: it delivered new events (and then broke or ended);
   * `quiet`: it stayed open but silent until the idle limit; `closed`: it ended cleanly with
   * nothing new; `failed`: it could not open or broke without progress; `refused`: the upstream
   * will not stream this response (4xx).
   */
  async #relay(job: Job, signal: AbortSignal): Promise<"progress" | "quiet" | "closed" | "failed" | "refused"> {
    const writer = this.#writer;
    let live = false;
    const end = await readUpstreamStream(this.#deps.upstream, job.upstreamId!, signal, {
      cursor: () => writer.upstreamHigh,
      onEvent: async (event) => {
        if (!live) this.#hooks.phase("live");
        live = true;
        // The end is recorded before readers can see it: a status read is never behind the stream.
        if (TERMINAL_EVENT_TYPES.has(event.type) && event.response)
          await this.#recordEnd(event.response as UpstreamResponse);
        await writer.add(relayEvent(event, job, this.#request!), event.sequence_number);
        return writer.ended || !(await this.#hooks.keepLease());
      },
      onClose: async () => {
        if (!writer.ended && !signal.aborted) await writer.flush();
      },
    });
    // Stopped only after an event it consumed: the log ended, or another instance took the lease.
    return end === "stopped" ? "progress" : end;
  }

  /**
   * Polls (the job as the relay knows it, then the upstream) until the job ends, then writes the
   * end of the stream. After failures (not a refusal) it returns true now and then to try the
   * stream again.
   */
  async #poll(job: Job, why: "refused" | "failing", signal: AbortSignal): Promise<boolean> {
    this.#hooks.phase("polling");
    const since = this.#deps.clock.now();
    let current: Job | null = job;
    while (!signal.aborted && !this.#writer.ended) {
      if (!(await this.#hooks.keepLease())) return false;
      current = await this.#deps.jobs.get(this.#jobId);
      if (!current) return false;
      if (await this.#finishIfOver(current)) return false;
      if (why === "failing" && this.#deps.clock.now() - since >= this.#settings.retryStreamAfterMs) return true;
      await sleepOnClock(this.#deps.clock, this.#settings.pollIntervalMs, signal);
    }
    return false;
  }

  /** Ends the log when the job (or, ahead of the poller, the upstream) has ended. */
  async #finishIfOver(job: Job): Promise<boolean> {
    if (isTerminal(job.status)) {
      const output = await this.#deps.jobs.getOutput(job);
      await this.#writer.finish(wireResponse(job, output, this.#request!), job.status);
      return true;
    }
    let upstream: UpstreamResponse;
    try {
      upstream = await this.#deps.upstream.retrieve(job.upstreamId!, { include: job.include ?? undefined });
    } catch {
      return false; // transient, or refused: the poller settles the job, and the next look sees it
    }
    if (!isTerminal(upstream.status as Job["status"])) return false;
    await this.#recordEnd(upstream);
    const recorded = (await this.#deps.jobs.get(this.#jobId)) ?? job;
    const ended = isTerminal(recorded.status) ? recorded : { ...job, status: upstream.status as Job["status"] };
    await this.#writer.finish(wireResponse(ended, upstream, this.#request!), ended.status);
    return true;
  }
}
