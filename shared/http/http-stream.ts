import type { Context } from "hono";
import type { Job } from "#shared/domain/job.ts";
import { InvalidRequestError } from "#shared/errors.ts";
import { jsonLog } from "#shared/log.ts";
import type { Deps, Tenant } from "#shared/ports.ts";
import { sseResponse } from "#shared/streaming/sse-response.ts";
import { StreamService, type StreamChunk } from "#shared/streaming/stream-service.ts";
import { holdSlot, type SlotHold } from "./limits.ts";

/** Left unused of a Lambda's time: the stream ends this long before the function would be killed. */
const LAMBDA_SAFETY_MS = 5_000;
/**
 * A buffered Lambda (API Gateway in front) returns nothing until it ends, and the gateway gives
 * up at 30 s: a stream there ends after this and the caller resumes (the function URL streams).
 */
const BUFFERED_STREAM_MS = 25_000;

const services = new WeakMap<object, StreamService>();

/** One StreamService per set of adapters, so every app built on them shares its writers. */
export function streamServiceFor(deps: Deps): StreamService {
  let service = services.get(deps);
  if (!service) services.set(deps, (service = new StreamService(deps, { log: jsonLog })));
  return service;
}

/**
 * Where a stream starts: `Last-Event-ID` (an EventSource reconnecting sends it with the original
 * URL, so it is newer than any `starting_after` there), else `starting_after`, else the start.
 */
export function streamCursor(c: Context): number {
  const header = c.req.header("last-event-id");
  if (header !== undefined && header.trim() !== "") return parseCursor(header.trim(), "Last-Event-ID");
  const query = c.req.query("starting_after");
  return query === undefined || query === "" ? -1 : parseCursor(query, "starting_after");
}

function parseCursor(raw: string, param: string): number {
  if (!/^\d{1,15}$/.test(raw)) {
    throw new InvalidRequestError(
      `Invalid '${param}': expected a non-negative integer (a sequence_number), but got '${raw.slice(0, 40)}' instead.`,
      { param, code: "invalid_value" },
    );
  }
  return Number(raw);
}

interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

/**
 * When this response must have ended, from the Lambda context Hono's adapters pass along:
 * `context` under `streamHandle` (a function URL in RESPONSE_STREAM mode), `lambdaContext` under
 * the buffered `handle`. Null elsewhere (the local stack streams without a limit).
 */
export function streamDeadline(c: Context): number | null {
  const env = (c.env ?? {}) as { context?: Partial<LambdaContextLike>; lambdaContext?: Partial<LambdaContextLike> };
  const now = Date.now();
  if (typeof env.context?.getRemainingTimeInMillis === "function")
    return now + env.context.getRemainingTimeInMillis() - LAMBDA_SAFETY_MS;
  if (typeof env.lambdaContext?.getRemainingTimeInMillis === "function") {
    return now + Math.min(env.lambdaContext.getRemainingTimeInMillis() - LAMBDA_SAFETY_MS, BUFFERED_STREAM_MS);
  }
  return null;
}

/**
 * The job's stream after `afterSeq`, as an SSE response in OpenAI's framing. It holds one of the
 * tenant's stream slots (`slot`, when the caller took it already) until the stream ends or the
 * reader goes; over the tenant's limit it throws a 429 before anything is read.
 */
export async function streamJob(
  c: Context,
  deps: Deps,
  job: Job,
  afterSeq: number,
  init: { status?: number; headers?: Record<string, string>; slot?: SlotHold; tenant?: Tenant } = {},
): Promise<Response> {
  const service = streamServiceFor(deps);
  const slot = init.slot ?? (await holdSlot(deps, init.tenant ?? (c.get("tenant") as Tenant), "streams"));
  const requestId = c.res.headers.get("x-request-id");
  return sseResponse((signal) => releasing(service.follow(job, afterSeq, signal), slot), {
    deadlineAt: streamDeadline(c),
    status: init.status,
    headers: { ...(requestId ? { "x-request-id": requestId } : {}), ...init.headers },
  });
}

/** The stream, handing its slot back however it ends (finished, reader gone, deadline). */
async function* releasing(chunks: AsyncGenerator<StreamChunk>, slot: SlotHold): AsyncGenerator<StreamChunk> {
  try {
    yield* chunks;
  } finally {
    await slot.release();
  }
}
