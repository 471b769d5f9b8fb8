import type { Context } from "aws-lambda";
import { loadConfig } from "#shared/config.ts";
import { jsonLog } from "#shared/log.ts";
import { Poller } from "#shared/poller/poller.ts";
import { createDeps } from "#shared/runtime.ts";
import { readSecrets } from "./secrets.ts";

const config = loadConfig();
const secrets = await readSecrets(config);
const deps = createDeps(config, { openaiApiKey: secrets.openaiApiKey });
const log = jsonLog;

/** Leaves this much of the Lambda's time unused, so leases are released before a timeout. */
const SAFETY_MS = 5_000;
/** EventBridge fires once a minute: stop before the next invocation would overlap. */
const MINUTE_BUDGET_MS = 56_000;

/** Invoked by an EventBridge rule every minute; ticks every few seconds within that minute. */
export async function handler(_event: unknown, context: Context) {
  const budgetMs = Math.min(MINUTE_BUDGET_MS, context.getRemainingTimeInMillis() - SAFETY_MS);
  const poller = new Poller(deps, { tickMs: config.pollTickMs, concurrency: config.pollConcurrency, log });
  const result = await poller.run({ budgetMs });
  log({ level: "info", msg: "poller invocation done", ...result });
  return result;
}
