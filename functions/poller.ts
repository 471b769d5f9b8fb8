import type { Context } from "aws-lambda";
import { jsonLog, withLogContext } from "#shared/log.ts";
import { Poller } from "#shared/poller/poller.ts";
import { deliverOnce } from "#shared/poller/prompt-deliveries.ts";
import { pollerWindowMs } from "#shared/poller/window.ts";
import { bootstrap } from "./bootstrap.ts";

const { config, deps } = bootstrap();
const log = jsonLog;

/** What the other functions send, asynchronously, for a job they saw end (shared/use-cases/announce-end.ts). */
interface DeliveryRequest {
  deliver: string;
}
const isDeliveryRequest = (event: unknown): event is DeliveryRequest =>
  typeof (event as DeliveryRequest | null)?.deliver === "string";

/**
 * Invoked by an EventBridge rule every minute; ticks every few seconds within that minute. Also
 * invoked asynchronously with `{ deliver: jobId }` to send one job's webhook now: each such
 * invocation holds one send (a receiver that never answers holds it for the 15 s timeout, nobody
 * else's), and the attempt is claimed with a fenced write, so a tick of the scheduled poller
 * that reaches the same job sends nothing twice.
 */
export async function handler(event: unknown, context: Context) {
  return withLogContext({ awsRequestId: context.awsRequestId }, async () => {
    if (isDeliveryRequest(event)) {
      const job = await deps.jobs.get(event.deliver);
      if (job) await deliverOnce(job, deps, log);
      return { delivered: event.deliver };
    }
    const budgetMs = pollerWindowMs(context.getRemainingTimeInMillis());
    const poller = new Poller(deps, {
      tickMs: config.pollTickMs,
      concurrency: config.pollConcurrency,
      maxWatches: config.maxWatches,
      log,
    });
    const result = await poller.run({ budgetMs });
    log({ level: "info", msg: "poller invocation done", budgetMs, ...result });
    return result;
  });
}
