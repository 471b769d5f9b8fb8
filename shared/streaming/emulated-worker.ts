/**
 * The relay's own background mode, for an upstream that has none (docs/decisions/0008-emulated-background.md).
 * One worker owns a job under a lease (`worker-<job id>`) it renews while it holds the upstream's
 * streaming request open, and writes every event into the job's event log, so status, streams
 * with resume, cancel, deadlines, webhooks, usage and cost work as they do for an OpenAI job.
 * A worker that dies stops renewing; the poller finds the lease expired and starts another, which
 * runs the job again from the start (or fails it, as configured) and appends only what readers
 * were not told yet (`RerunFilter`).
 */
import { randomUUID } from "node:crypto";
import { isTerminal, type EndReason, type Job } from "#shared/domain/job.ts";
import { requestEcho } from "#shared/domain/response-view.ts";
import { retryDelayMs } from "#shared/domain/polling.ts";
import {
  UpstreamAuthError,
  UpstreamRejectedError,
  UpstreamUnavailableError,
  VersionConflictError,
} from "#shared/errors.ts";
import type { Log } from "#shared/log.ts";
import type { Deps, DirectUpstream, StreamEvent, UpstreamResponse } from "#shared/ports.ts";
import { sleep, sleepOnClock } from "#shared/sleep.ts";
import { announceEnd } from "#shared/use-cases/announce-end.ts";
import {
  applyUpstream,
  finishLocally,
  finishWithResponse,
  rejectedEnd,
  transition,
} from "#shared/use-cases/job-transitions.ts";
import { ItemIds, outputSoFar, RerunFilter } from "./emulated-events.ts";
import { LogWriter } from "./log-writer.ts";
import { relayEvent } from "./relay-view.ts";
import { wireResponse } from "#shared/domain/response-view.ts";
import { DEFAULT_PUMP_SETTINGS } from "./stream-pump.ts";
import { LIFECYCLE_EVENT_TYPES, TERMINAL_EVENT_TYPES } from "#shared/domain/stream-events.ts";

export const workerLease = (jobId: string) => `worker-${jobId}`;

/** Whether the relay's worker runs this job (its upstream has no background mode). */
export function isEmulated(job: Pick<Job, "upstream">, deps: Pick<Deps, "emulation">): boolean {
  return job.upstream !== null && deps.emulation?.direct.has(job.upstream) === true;
}

export interface WorkerControl {
  /** Stops the run: a cancel or delete (`interrupt`), or the process shutting down (`shutdown`). */
  signal: AbortSignal;
  /**
   * Tests only: the worker stops dead, as a killed process would, with no cleanup (its lease
   * stays until it expires, buffered events are lost, the upstream request is dropped).
   */
  crash?: AbortSignal;
  log?: Log;
}

export type WorkerOutcome = "busy" | "gone" | "waiting" | "ended" | "lost" | "stopped" | "crashed";

/** Real ms a worker started by the create waits for the create's write to land. */
const CREATE_WAIT_MS = 10_000;

type Json = Record<string, unknown>;

class Crashed extends Error {}

/** Runs (or reruns, or fails) one job; returns when the job has ended or this worker let go. */
export async function runEmulatedJob(jobId: string, deps: Deps, control: WorkerControl): Promise<WorkerOutcome> {
  const emulation = deps.emulation;
  if (!emulation) throw new Error("runEmulatedJob needs deps.emulation");
  const worker = new Worker(jobId, deps, control);
  try {
    return await worker.run();
  } catch (error) {
    if (error instanceof Crashed) return "crashed";
    control.log?.({ level: "error", msg: "emulated worker failed", jobId, error: String(error) });
    await worker.release();
    return "stopped";
  }
}

class Worker {
  readonly #jobId: string;
  readonly #deps: Deps;
  readonly #control: WorkerControl;
  readonly #owner = `worker-${randomUUID()}`;
  readonly #leaseMs: number;
  #request: Json | null = null;

  constructor(jobId: string, deps: Deps, control: WorkerControl) {
    this.#jobId = jobId;
    this.#deps = deps;
    this.#control = control;
    this.#leaseMs = deps.emulation!.settings.leaseMs;
  }

  #crashCheck(): void {
    if (this.#control.crash?.aborted) throw new Crashed();
  }

  async #renew(): Promise<boolean> {
    const now = this.#deps.clock.now();
    const ok = await this.#deps.leases.acquire(workerLease(this.#jobId), this.#owner, now + this.#leaseMs, now);
    return ok;
  }

  async release(): Promise<void> {
    await this.#deps.leases.release(workerLease(this.#jobId), this.#owner).catch(() => undefined);
  }

  async run(): Promise<WorkerOutcome> {
    if (!(await this.#renew())) return "busy";
    let released = false;
    try {
      const job = await this.#created();
      if (job === null) return "gone";
      if (job === "waiting") return "waiting";
      if (isTerminal(job.status)) {
        await this.#finishLog(job);
        return "ended";
      }
      return await this.#runs(job);
    } catch (error) {
      if (error instanceof Crashed) released = true; // a dead process releases nothing
      throw error;
    } finally {
      if (!released && !this.#control.crash?.aborted) await this.release();
    }
  }

  /** The job once its create is recorded (the worker may start before the submit's write lands). */
  async #created(): Promise<Job | null | "waiting"> {
    const started = Date.now();
    for (;;) {
      this.#crashCheck();
      const job = await this.#deps.jobs.get(this.#jobId);
      if (!job) return null;
      if (job.createState === "done" || isTerminal(job.status)) return job;
      if (Date.now() - started > CREATE_WAIT_MS) return "waiting"; // the poller starts a worker later
      await sleep(50, this.#control.signal);
      if (this.#control.signal.aborted) return "waiting";
    }
  }

  /** Run after run until the job ends, this worker is told to stop, or the runs are used up. */
  async #runs(first: Job): Promise<WorkerOutcome> {
    const settings = this.#deps.emulation!.settings;
    let job = first;
    let failures = 0;
    for (;;) {
      this.#crashCheck();
      // A run began earlier and never finished: its worker died (or its upstream stream broke).
      if (job.workerRuns > 0 && (settings.onWorkerLost === "fail" || job.workerRuns >= settings.maxRuns)) {
        const ended = await this.#failLost(job);
        if (ended) await this.#finishLog(ended);
        return "lost";
      }
      const result = await this.#runOnce(job);
      this.#crashCheck();
      if (result.kind === "ended") return "ended";
      if (result.kind === "stopped") return "stopped";
      const current = await this.#deps.jobs.get(this.#jobId);
      if (!current) return "gone";
      if (isTerminal(current.status)) {
        await this.#finishLog(current);
        return "ended";
      }
      job = current;
      if (result.kind === "unavailable") {
        // The upstream could not be reached: not a run. Wait (holding the lease) and try again.
        failures += 1;
        job = await this.#note(job, result.message);
        const wait = result.auth ? 60_000 : retryDelayMs(failures, result.retryAfterMs);
        if (!(await this.#wait(wait))) return "stopped";
        const again = await this.#deps.jobs.get(this.#jobId);
        if (!again) return "gone";
        if (isTerminal(again.status)) {
          await this.#finishLog(again);
          return "ended";
        }
        job = again;
      }
      // "broken": the run was counted; the loop's top reruns or fails it.
    }
  }

  /** Sleeps on the clock while keeping the lease; false when told to stop or the lease was lost. */
  async #wait(ms: number): Promise<boolean> {
    const until = this.#deps.clock.now() + ms;
    while (this.#deps.clock.now() < until) {
      this.#crashCheck();
      if (this.#control.signal.aborted) return false;
      await sleepOnClock(this.#deps.clock, Math.min(ms, this.#leaseMs / 3), this.#control.signal);
      if (!(await this.#renew())) return false;
    }
    return true;
  }

  async #note(job: Job, message: string): Promise<Job> {
    if (job.lastUpstreamError === message) return job;
    try {
      return await transition(job, { type: "trouble", error: message, retryAt: undefined }, this.#deps);
    } catch (error) {
      if (error instanceof VersionConflictError) return (await this.#deps.jobs.get(this.#jobId)) ?? job;
      throw error;
    }
  }

  async #failLost(job: Job): Promise<Job | null> {
    const settings = this.#deps.emulation!.settings;
    const message =
      settings.onWorkerLost === "fail"
        ? "The relay's worker running this response stopped before it finished, and reruns are switched off (emulation.onWorkerLost: fail). Submit it again."
        : `The relay's worker running this response stopped before it finished ${job.workerRuns} time(s), the most runs allowed (emulation.maxRuns). Submit it again.`;
    const reason: EndReason = { code: "worker_lost", message };
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        return await finishLocally(job, "failed", this.#deps, {
          error: { code: "server_error", message },
          endReason: reason,
        });
      } catch (error) {
        if (!(error instanceof VersionConflictError)) throw error;
        const current = await this.#deps.jobs.get(this.#jobId);
        if (!current) return null;
        if (isTerminal(current.status)) return current;
        job = current;
      }
    }
    return null;
  }

  async #requestOf(job: Job): Promise<Json> {
    this.#request ??= await this.#deps.jobs.getRequest(job);
    return this.#request;
  }

  /** One upstream request, held open from the first event to the last. */
  async #runOnce(
    job: Job,
  ): Promise<
    | { kind: "ended" | "stopped" | "broken" }
    | { kind: "unavailable"; message: string; retryAfterMs: number | null; auth: boolean }
  > {
    const deps = this.#deps;
    const direct = deps.emulation!.direct.get(job.upstream!) as DirectUpstream;
    const request = await this.#requestOf(job);
    const run = new AbortController();
    const stopRun = () => run.abort();
    this.#control.signal.addEventListener("abort", stopRun, { once: true });
    this.#control.crash?.addEventListener("abort", stopRun, { once: true });
    const watch = { ended: false, deadline: false, leaseLost: false };
    let heartbeat: Promise<void> | null = null;
    const writer = new LogWriter(deps.eventLog, this.#jobId, DEFAULT_PUMP_SETTINGS, () => undefined);
    try {
      let events: AsyncIterable<StreamEvent>;
      try {
        events = await direct.open(directBody(request), { signal: run.signal, jobId: this.#jobId });
      } catch (error) {
        this.#crashCheck();
        if (this.#control.signal.aborted) return { kind: "stopped" };
        if (error instanceof UpstreamRejectedError) {
          await this.#end(job, (j) => finishLocally(j, "failed", deps, rejectedEnd(error)));
          return { kind: "ended" };
        }
        if (error instanceof UpstreamAuthError)
          return { kind: "unavailable", message: error.message, retryAfterMs: null, auth: true };
        if (error instanceof UpstreamUnavailableError)
          return { kind: "unavailable", message: error.message, retryAfterMs: error.retryAfterMs, auth: false };
        throw error;
      }
      // The upstream took the request: a run has begun (a worker that dies from here is "lost").
      let current = await this.#started(job);
      if (!current) return { kind: "ended" };
      heartbeat = this.#heartbeat(run, watch);
      await writer.init();
      const told: StreamEvent[] = [];
      for (const batch of await readAll(deps, this.#jobId)) told.push(...batch);
      const filter = new RerunFilter(told);
      const ids = new ItemIds(this.#jobId);
      // Upstream cursors only grow across runs, so the writer never takes a rerun's event for a repeat.
      let cursor = writer.upstreamHigh + 1;
      try {
        for await (const raw of events) {
          this.#crashCheck();
          if (run.signal.aborted || writer.ended) break;
          const event = ids.apply(raw);
          if (TERMINAL_EVENT_TYPES.has(event.type) && event.response) {
            // The end is recorded before readers can see it: a status read is never behind the stream.
            const recorded = await this.#recordEnd(current, event.response as UpstreamResponse);
            if (!recorded) break;
            current = recorded;
          }
          const shown = filter.pass(this.#relayed(event, current, request));
          if (shown) {
            told.push(shown);
            await writer.add(shown, cursor++);
          }
          if (writer.ended) break;
        }
      } catch (error) {
        this.#crashCheck();
        if (!(error instanceof UpstreamUnavailableError || error instanceof UpstreamRejectedError)) throw error;
        warn(this.#control.log, this.#jobId, `upstream stream broke: ${error.message}`);
      }
      this.#crashCheck();
      if (writer.ended) return { kind: "ended" };
      await writer.flush();
      if (watch.leaseLost) return { kind: "stopped" };
      if (watch.deadline) {
        await this.#end(current, async (j) =>
          finishWithResponse(j, "cancelled", partial(j, told), deps, { endReason: deadlineReason(j) }),
        );
        return { kind: "ended" };
      }
      if (this.#control.signal.aborted || watch.ended) {
        // A cancel or delete (the job ends, or is gone, in the write that follows it) or a shutdown.
        const ended = await this.#settled();
        if (ended) await this.#finishLog(ended);
        return { kind: this.#control.signal.aborted && !ended ? "stopped" : "ended" };
      }
      return { kind: "broken" };
    } finally {
      run.abort();
      this.#control.signal.removeEventListener("abort", stopRun);
      this.#control.crash?.removeEventListener("abort", stopRun);
      if (this.#control.crash?.aborted) writer.close();
      else await writer.flush().catch(() => undefined);
      writer.close();
      await heartbeat;
    }
  }

  /** Records that a run began: the run counted, the job `in_progress`. Null when the job ended meanwhile. */
  async #started(job: Job): Promise<Job | null> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        // The poller looks again when the lease could have lapsed (a dead worker is found then).
        const nextCheckAt = this.#deps.clock.now() + this.#leaseMs;
        return await transition(job, { type: "run_started", nextCheckAt }, this.#deps);
      } catch (error) {
        if (!(error instanceof VersionConflictError)) throw error;
        const current = await this.#deps.jobs.get(this.#jobId);
        if (!current || isTerminal(current.status)) return null;
        job = current;
      }
    }
    return null;
  }

  async #recordEnd(job: Job, final: UpstreamResponse): Promise<Job | null> {
    let current: Job | null = job;
    for (let attempt = 0; attempt < 5 && current; attempt++) {
      if (isTerminal(current.status)) return null;
      try {
        const ended = (await applyUpstream(current, { ...final, id: this.#jobId }, this.#deps)).job;
        await announceEnd(ended, this.#deps);
        return ended;
      } catch (error) {
        if (!(error instanceof VersionConflictError)) throw error;
        current = await this.#deps.jobs.get(this.#jobId);
      }
    }
    return null;
  }

  async #end(job: Job, write: (job: Job) => Promise<Job>): Promise<void> {
    let current: Job | null = job;
    for (let attempt = 0; attempt < 5 && current && !isTerminal(current.status); attempt++) {
      try {
        current = await write(current);
      } catch (error) {
        if (!(error instanceof VersionConflictError)) throw error;
        current = await this.#deps.jobs.get(this.#jobId);
      }
    }
    if (current && isTerminal(current.status)) {
      await announceEnd(current, this.#deps);
      await this.#finishLog(current);
    }
  }

  /** After a cancel or delete interrupted the run: the job as its terminal write left it (or null). */
  async #settled(): Promise<Job | null> {
    const started = Date.now();
    while (Date.now() - started < 5_000) {
      const job = await this.#deps.jobs.get(this.#jobId);
      if (!job) return null;
      if (isTerminal(job.status)) return job;
      await sleep(25);
    }
    return null;
  }

  /** An upstream event as callers see it: the relay's ids, the caller's fields, a complete Response. */
  #relayed(event: StreamEvent, job: Job, request: Json): StreamEvent {
    const mapped = relayEvent(event, job, request);
    if (!LIFECYCLE_EVENT_TYPES.has(mapped.type) || !mapped.response) return mapped;
    return { ...mapped, response: { ...requestEcho(request), ...(mapped.response as Json) } };
  }

  /** Ends the job's log from its final state (a no-op when the log already ended). */
  async #finishLog(job: Job): Promise<void> {
    const writer = new LogWriter(this.#deps.eventLog, this.#jobId, DEFAULT_PUMP_SETTINGS, () => undefined);
    try {
      await writer.init();
      if (writer.ended) return;
      const request = await this.#requestOf(job);
      await writer.finish(wireResponse(job, await this.#deps.jobs.getOutput(job), request), job.status);
    } finally {
      writer.close();
    }
  }

  /**
   * Renews the lease every third of its length (clock time) and watches the job: a cancel
   * elsewhere, a delete or the deadline stop the run; a lease someone else took stops it too.
   */
  async #heartbeat(run: AbortController, watch: { ended: boolean; deadline: boolean; leaseLost: boolean }) {
    while (!run.signal.aborted) {
      await sleepOnClock(this.#deps.clock, this.#leaseMs / 3, run.signal);
      if (run.signal.aborted || this.#control.crash?.aborted) return;
      try {
        if (!(await this.#renew())) {
          watch.leaseLost = true;
          run.abort();
          return;
        }
        const job = await this.#deps.jobs.get(this.#jobId);
        if (!job || isTerminal(job.status)) {
          watch.ended = true;
          run.abort();
          return;
        }
        if (this.#deps.clock.now() >= job.deadlineAt) {
          watch.deadline = true;
          run.abort();
          return;
        }
      } catch (error) {
        warn(this.#control.log, this.#jobId, `heartbeat failed: ${String(error)}`);
      }
    }
  }
}

/** The request as a server without background mode takes it: the caller's own, streamed. */
export function directBody(request: Json): Json {
  const { stream: _s, background: _b, store: _st, previous_response_id: _p, conversation: _c, ...rest } = request;
  return rest;
}

async function readAll(deps: Deps, jobId: string): Promise<StreamEvent[][]> {
  const out: StreamEvent[][] = [];
  let after = -1;
  for (;;) {
    const batches = await deps.eventLog.read(jobId, after);
    if (batches.length === 0) return out;
    for (const batch of batches) {
      const fresh = batch.events.filter((e) => e.sequence_number > after);
      if (fresh.length) out.push(fresh);
      after = Math.max(after, batch.first + batch.events.length - 1);
    }
    if (batches[batches.length - 1]!.end) return out;
  }
}

/** What a run cut short by its deadline keeps: the output its stream had built. */
function partial(job: Job, told: StreamEvent[]): UpstreamResponse {
  return { id: job.id, object: "response", status: "cancelled", output: outputSoFar(told), usage: null };
}

function deadlineReason(job: Job): EndReason {
  return {
    code: "deadline_exceeded",
    message: `The job passed its deadline (${new Date(job.deadlineAt).toISOString()}) and was stopped by the relay's worker.`,
  };
}

function warn(log: Log | undefined, jobId: string, msg: string): void {
  log?.({ level: "warn", msg: `emulated worker: ${msg}`, jobId });
}
