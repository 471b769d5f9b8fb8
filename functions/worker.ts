import type { Context } from "aws-lambda";
import { jsonLog, withLogContext } from "#shared/log.ts";
import { promptDeliveriesOf } from "#shared/runtime.ts";
import { runEmulatedJob } from "#shared/streaming/emulated-worker.ts";
import { bootstrap } from "./bootstrap.ts";

const { deps } = bootstrap({ worker: true });
const log = jsonLog;

/** Stop this long before Lambda's timeout: the run lets go cleanly and the lease is released. */
const STOP_MARGIN_MS = 20_000;

/**
 * Runs one job of an upstream without background mode (docs/decisions/0008-emulated-background.md),
 * invoked asynchronously by a submit or the poller with `{jobId}`. The function's 15-minute limit
 * is the job's deadline too (RELAY_WORKER_MAX_SECONDS), so a run ends before the function does.
 */
export async function handler(event: { jobId?: unknown }, context: Context) {
  return withLogContext({ awsRequestId: context.awsRequestId }, async () => {
    if (typeof event?.jobId !== "string" || !event.jobId.startsWith("resp_")) {
      log({ level: "warn", msg: "worker invoked without a job id" });
      return { outcome: "ignored" };
    }
    const stop = AbortSignal.timeout(Math.max(1_000, context.getRemainingTimeInMillis() - STOP_MARGIN_MS));
    const outcome = await runEmulatedJob(event.jobId, deps, { signal: stop, log });
    // The run that ended the job handed its caller's webhook to this process's delivery lane
    // (the worker may not invoke the poller: the stack's grants would form a cycle). Send it before
    // returning, or Lambda freezes the send half-way; STOP_MARGIN_MS leaves room for its 15 s.
    await promptDeliveriesOf(deps)?.idle();
    log({ level: "info", msg: "worker done", jobId: event.jobId, outcome });
    return { outcome };
  });
}
