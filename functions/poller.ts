import type { Context } from "aws-lambda";
import { jsonLog, withLogContext } from "#shared/log.ts";
import { Poller } from "#shared/poller/poller.ts";
import { pollerWindowMs } from "#shared/poller/window.ts";
import { bootstrap } from "./bootstrap.ts";

const { config, deps } = bootstrap();
const log = jsonLog;

/** Invoked by an EventBridge rule every minute; ticks every few seconds within that minute. */
export async function handler(_event: unknown, context: Context) {
  return withLogContext({ awsRequestId: context.awsRequestId }, async () => {
    const budgetMs = pollerWindowMs(context.getRemainingTimeInMillis());
    const poller = new Poller(deps, { tickMs: config.pollTickMs, concurrency: config.pollConcurrency, log });
    const result = await poller.run({ budgetMs });
    log({ level: "info", msg: "poller invocation done", budgetMs, ...result });
    return result;
  });
}
