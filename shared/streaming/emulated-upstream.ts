import { randomUUID } from "node:crypto";
import { isTerminal } from "#shared/domain/job.ts";
import { UpstreamRejectedError, UpstreamUnavailableError } from "#shared/errors.ts";
import type { Log } from "#shared/log.ts";
import type {
  CreateContext,
  Deps,
  InputItemPage,
  InputTokenCount,
  StreamEvent,
  Upstream,
  UpstreamResponse,
} from "#shared/ports.ts";
import { outputSoFar } from "./emulated-events.ts";
import { runEmulatedJob, workerLease, type WorkerOutcome } from "./emulated-worker.ts";

const rejected = (message: string, status: number, param: string | null = null, code: string | null = null) =>
  new UpstreamRejectedError(message, { status, type: "invalid_request_error", param, code });

/**
 * An upstream without background mode, as the rest of the relay sees it: the Upstream port, with
 * the relay's own worker pool behind it (docs/decisions/0008-emulated-background.md). A create
 * answers `queued` at once and starts a worker; a poll tells whether the worker still holds the
 * job, and starts another when it does not (the rerun of a worker that died); a cancel stops the
 * worker and keeps the output streamed so far. The id is the job's own.
 */
export class EmulatedUpstream implements Upstream {
  readonly #name: string;
  readonly #deps: () => Deps;

  /** `deps` is read lazily: the worker pool and this upstream are part of the Deps they serve. */
  constructor(name: string, deps: () => Deps) {
    this.#name = name;
    this.#deps = deps;
  }

  async create(body: Record<string, unknown>, context?: CreateContext): Promise<UpstreamResponse> {
    if (!context) throw new Error("an emulated upstream needs the job id of a create");
    const deps = this.#deps();
    for (const field of ["previous_response_id", "conversation"] as const)
      if (body[field] != null)
        throw rejected(
          `${field} is not supported for model '${String(body.model)}': its upstream ('${this.#name}') keeps no state the relay could continue. Send the whole conversation in input.`,
          400,
          field,
          "unsupported_parameter",
        );
    const refusal = deps.emulation!.direct.get(this.#name)!.refusal(body);
    if (refusal) throw rejected(refusal, 400, null, "unsupported_value");
    await deps.emulation!.dispatch(context.jobId);
    return { id: context.jobId, object: "response", status: "queued", background: true, output: [], usage: null };
  }

  /**
   * The job as its worker left it. A job no live worker holds gets one (its first, or a rerun);
   * the poller calls this, so a dead worker is replaced within a lease and a poll interval.
   */
  async retrieve(id: string): Promise<UpstreamResponse> {
    const deps = this.#deps();
    const job = await deps.jobs.get(id);
    if (!job) throw rejected(`No response with id '${id}'.`, 404);
    if (!isTerminal(job.status)) {
      const heldUntil = await deps.leases.lastHeldUntil(workerLease(id));
      if (heldUntil === null || heldUntil <= deps.clock.now()) await deps.emulation!.dispatch(id);
    }
    // The worker's own note of upstream trouble stays (a poll must not clear it).
    if (job.lastUpstreamError) throw new UpstreamUnavailableError(job.lastUpstreamError, {});
    return { id, object: "response", status: job.status };
  }

  async cancel(id: string): Promise<UpstreamResponse> {
    const deps = this.#deps();
    deps.emulation!.interrupt(id);
    const events: StreamEvent[] = [];
    let after = -1;
    for (;;) {
      const batches = await deps.eventLog.read(id, after);
      if (batches.length === 0) break;
      for (const batch of batches) {
        for (const event of batch.events) if (event.sequence_number > after) events.push(event);
        after = Math.max(after, batch.first + batch.events.length - 1);
      }
      if (batches[batches.length - 1]!.end) break;
    }
    return { id, object: "response", status: "cancelled", output: outputSoFar(events), usage: null };
  }

  /** Its worker records the end itself: there is no upstream stream to watch. */
  canWatch(): boolean {
    return false;
  }

  async stream(): Promise<AsyncIterable<StreamEvent>> {
    // Never called for such jobs (their worker writes the log): refused, so a pump would poll.
    throw rejected("The relay's own worker writes this response's stream.", 400, "stream");
  }

  async delete(id: string): Promise<void> {
    this.#deps().emulation!.interrupt(id);
  }

  async listInputItems(id: string): Promise<InputItemPage> {
    // Nothing is stored upstream: the relay lists the items from the request it keeps.
    throw rejected(`No response with id '${id}' upstream.`, 404);
  }

  async countInputTokens(body: Record<string, unknown>): Promise<InputTokenCount> {
    throw rejected(
      `Input token counts are not available for model '${String(body.model)}': its upstream ('${this.#name}') has no such endpoint.`,
      400,
      "model",
      "unsupported_value",
    );
  }
}

/**
 * The worker pool of one process (the local stack, the tests): a dispatched job runs here, at
 * most once at a time per job in this process (the lease keeps it once across processes).
 */
export class LocalWorkers {
  readonly #deps: () => Deps;
  readonly #log: Log | undefined;
  readonly #running = new Map<
    string,
    { stop: AbortController; crash: AbortController; done: Promise<WorkerOutcome> }
  >();
  readonly id = randomUUID();

  constructor(deps: () => Deps, log?: Log) {
    this.#deps = deps;
    this.#log = log;
  }

  async dispatch(jobId: string): Promise<void> {
    if (this.#running.has(jobId)) return;
    const stop = new AbortController();
    const crash = new AbortController();
    const done = runEmulatedJob(jobId, this.#deps(), { signal: stop.signal, crash: crash.signal, log: this.#log })
      .catch((error) => {
        this.#log?.({ level: "error", msg: "emulated worker failed", jobId, error: String(error) });
        return "stopped" as const;
      })
      .finally(() => {
        if (this.#running.get(jobId)?.done === done) this.#running.delete(jobId);
      });
    this.#running.set(jobId, { stop, crash, done });
  }

  /** Stops this process's worker of the job (a cancel or delete): the upstream request is aborted now. */
  interrupt(jobId: string): void {
    this.#running.get(jobId)?.stop.abort();
  }

  /**
   * Tests only: the worker dies as a killed process would, without any cleanup. The lease stays
   * until it expires, so what the test then sees is the relay's recovery, not a graceful stop.
   */
  async crash(jobId: string): Promise<void> {
    const running = this.#running.get(jobId);
    if (!running) return;
    running.crash.abort();
    await running.done;
  }

  running(): string[] {
    return [...this.#running.keys()];
  }

  /** Stops every worker here (the process is shutting down); their jobs run again elsewhere or later. */
  async stopAll(): Promise<void> {
    for (const { stop } of this.#running.values()) stop.abort();
    await Promise.all([...this.#running.values()].map((r) => r.done));
  }
}
