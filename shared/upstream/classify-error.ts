import OpenAI from "openai";
import {
  UpstreamAuthError,
  UpstreamRejectedError,
  UpstreamUnavailableError,
  type UpstreamFailure,
} from "#shared/errors.ts";
import { retryAfterMs } from "#shared/retry-after.ts";

/** Errors that mean the connection never carried the request: a retried create cannot double. */
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);
/** Gateway answers: the request may have reached OpenAI behind the gateway. */
const GATEWAY_STATUSES = new Set([502, 504]);

/**
 * The one place upstream failures are sorted: 400/404/422 and `insufficient_quota` are permanent;
 * 401/403 are the relay's own credentials failing (never the job's fault); 408/409/429/5xx and
 * network faults are transient. A create is "ambiguous" when it may have been carried out anyway
 * (timeouts, resets, gateway 502/504): resending it could start a second billed response.
 *
 * Only the upstream adapter calls this, on what its SDK call threw. What is not an upstream failure
 * (a TypeError from the relay's own code, say) returns null and the adapter rethrows it unchanged:
 * a bug must surface as a bug, not end a job as an "ambiguous" upstream fault.
 */
export function classifyUpstreamError(error: unknown): UpstreamFailure | null {
  if (
    error instanceof UpstreamRejectedError ||
    error instanceof UpstreamUnavailableError ||
    error instanceof UpstreamAuthError
  )
    return error;
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new UpstreamUnavailableError("The upstream did not answer in time.", { ambiguous: true, cause: error });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    const code = causeCode(error);
    return new UpstreamUnavailableError(`Could not reach the upstream${code ? ` (${code})` : ""}.`, {
      ambiguous: !(code && NEVER_SENT.has(code)),
      cause: error,
    });
  }
  if (error instanceof OpenAI.APIError && typeof error.status === "number") {
    const body = (error.error ?? {}) as {
      message?: string;
      type?: string;
      code?: string | null;
      param?: string | null;
    };
    const message = body.message ?? error.message;
    const code = error.code ?? body.code ?? null;
    const status = error.status;
    if (status === 401 || status === 403) return new UpstreamAuthError(status, { cause: error });
    if (code === "insufficient_quota" || !(status === 408 || status === 409 || status === 429 || status >= 500)) {
      return new UpstreamRejectedError(message, {
        status,
        type: error.type ?? body.type ?? "invalid_request_error",
        code,
        param: error.param ?? body.param ?? null,
        cause: error,
      });
    }
    return new UpstreamUnavailableError(`Upstream answered ${status}: ${message}`, {
      status,
      retryAfterMs: retryAfterMs(error.headers),
      ambiguous: GATEWAY_STATUSES.has(status),
      cause: error,
    });
  }
  if (error instanceof OpenAI.OpenAIError) {
    // The SDK's other failures (an aborted call, a reply it could not read): the request was sent.
    return new UpstreamUnavailableError(`Upstream call failed: ${error.message}`, { ambiguous: true, cause: error });
  }
  if (error instanceof SyntaxError) {
    // The SDK parses a 2xx body itself; an upstream (or a proxy) answering non-JSON lands here.
    return new UpstreamUnavailableError("The upstream answered with a body that is not JSON.", {
      ambiguous: true,
      cause: error,
    });
  }
  if (error instanceof Error && causeCode(error)) {
    // The connection broke while the SDK read the reply body (undici's "terminated").
    return new UpstreamUnavailableError(`The upstream connection broke off (${causeCode(error)}).`, {
      ambiguous: true,
      cause: error,
    });
  }
  return null;
}

function causeCode(error: Error): string | null {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (code.startsWith("E") || code.startsWith("UND_ERR"))) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}
