import { isDeliveryActive, isTerminal, type Job } from "#shared/domain/job.ts";
import type { Deps } from "#shared/ports.ts";

/**
 * A job just ended outside the poller (OpenAI's webhook, a stream, a cancel, the relay's own
 * worker): its caller's webhook goes out now, by `deps.deliverSoon` (a delivery lane in this
 * process locally, an asynchronous invocation of the poller function in AWS), not at the next
 * poller tick. Best effort: the due index still holds the delivery, so a dispatch that is lost
 * costs one tick of lag, and the attempt is claimed with a fenced write, so nothing is sent twice.
 */
export async function announceEnd(job: Job, deps: Deps): Promise<void> {
  if (!isTerminal(job.status) || !isDeliveryActive(job.delivery)) return;
  if ((job.delivery?.nextAttemptAt ?? 0) > deps.clock.now()) return;
  await deps.deliverSoon(job).catch(() => undefined);
}
