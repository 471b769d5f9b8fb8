import type { Job } from "#shared/domain/job.ts";
import { VersionConflictError } from "#shared/errors.ts";
import { withLogContext, type Log } from "#shared/log.ts";
import type { Deps } from "#shared/ports.ts";
import { deliverWebhook } from "#shared/use-cases/deliver-webhook.ts";
import { DeliveryLane, type DeliveryLaneLimits } from "./delivery-lane.ts";

/**
 * The first attempt of a webhook whose job ended outside the poller, sent now from this process
 * (`Deps.deliverSoon` locally and in the tests; in AWS the poller function does the same per
 * asynchronous invocation: functions/poller.ts). Sends go through a delivery lane of their own, so
 * a receiver that never answers holds one slot of its endpoint here too, never the caller.
 */
export class PromptDeliveries {
  readonly #deps: () => Deps;
  readonly #log: Log;
  readonly #lane: DeliveryLane;

  constructor(deps: () => Deps, log: Log, limits: Partial<DeliveryLaneLimits> = {}) {
    this.#deps = deps;
    this.#log = log;
    this.#lane = new DeliveryLane(limits);
  }

  async deliver(job: Job): Promise<void> {
    this.#lane.offer(job, () => deliverOnce(job, this.#deps(), this.#log));
  }

  /** Resolves once nothing is in flight or waiting (the tests wait on it; shutdown too). */
  idle(): Promise<void> {
    return this.#lane.idle();
  }
}

/**
 * One attempt for a job that just ended. Losing the claim to a poller that got there first is
 * the expected race, not a failure; anything else is logged and left to the poller's retry.
 */
export async function deliverOnce(job: Job, deps: Deps, log: Log): Promise<void> {
  try {
    await withLogContext({ jobId: job.id }, () => deliverWebhook(job, deps));
  } catch (error) {
    if (error instanceof VersionConflictError) return;
    log({
      level: "warn",
      msg: "prompt webhook delivery failed; the poller retries",
      jobId: job.id,
      error: String(error),
    });
  }
}
