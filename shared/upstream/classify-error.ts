import OpenAI from "openai";
import { UpstreamAuthError, UpstreamRejectedError, UpstreamUnavailableError } from "#shared/errors.ts";

/** Errors that mean the connection never carried the request: a retried create cannot double. */
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);
/** Gateway answers: the request may have reached OpenAI behind the gateway. */
const GATEWAY_STATUSES = new Set([502, 504]);

export type ClassifiedUpstreamError = UpstreamRejectedError | UpstreamUnavailableError | UpstreamAuthError;

/**
 * The one place upstream failures are sorted: 400/404/422 and `insufficient_quota` are permanent;
 * 401/403 are the relay's own credentials failing (never the job's fault); 408/409/429/5xx and
 * network faults are transient. A create is "ambiguous" when it may have been carried out anyway
 * (timeouts, resets, gateway 502/504): resending it could start a second billed response.
 */
export function classifyUpstreamError(error: unknown): ClassifiedUpstreamError {
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
  return new UpstreamUnavailableError(
    `Upstream call failed: ${error instanceof Error ? error.message : String(error)}`,
    { ambiguous: true, cause: error },
  );
}

function causeCode(error: Error): string | null {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("E")) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}

/** `retry-after-ms`, `x-ms-retry-after-ms` (Azure), then `retry-after` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Headers | undefined | null, nowMs: number = Date.now()): number | null {
  if (!headers) return null;
  for (const name of ["retry-after-ms", "x-ms-retry-after-ms"]) {
    const value = Number(headers.get(name));
    if (headers.get(name) !== null && Number.isFinite(value) && value >= 0) return value;
  }
  const header = headers.get("retry-after");
  if (header === null) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}
