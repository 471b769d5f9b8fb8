/**
 * The relay's error tree. Errors carry what went wrong in the caller's terms; they know nothing of
 * HTTP (shared/http/error-response.ts maps each class to a status in one place).
 * Messages must never contain secrets: they are shown to callers.
 */
export class RelayError extends Error {
  /**
   * Each class names itself in a string: the Lambda bundles are minified without keepNames (they
   * would cost 28 KB and an Object.defineProperty per function at every cold start,
   * docs/decisions/0012-bundle-diet.md), so a class's own name is not its source name there.
   */
  override name = "RelayError";
  /** OpenAI error `code`, e.g. "invalid_value"; null when there is none. */
  readonly code: string | null;
  /** The request field at fault, as OpenAI's `param`. */
  readonly param: string | null;
  constructor(message: string, options: { code?: string | null; param?: string | null; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = options.code ?? null;
    this.param = options.param ?? null;
  }
}

export class InvalidRequestError extends RelayError {
  override name = "InvalidRequestError";
}
export class AuthenticationError extends RelayError {
  override name = "AuthenticationError";
}
export class NotFoundError extends RelayError {
  override name = "NotFoundError";
}
export class PayloadTooLargeError extends RelayError {
  override name = "PayloadTooLargeError";
}
/** A request body declared as something other than JSON. */
export class UnsupportedMediaTypeError extends RelayError {
  override name = "UnsupportedMediaTypeError";
}
/** The same Idempotency-Key is still being worked on by another request. */
export class IdempotencyInProgressError extends RelayError {
  override name = "IdempotencyInProgressError";
}
/** The same Idempotency-Key was used with a different body. */
export class IdempotencyMismatchError extends RelayError {
  override name = "IdempotencyMismatchError";
}

/**
 * The upstream refused a request for good (4xx other than 408/409/429, or insufficient quota).
 * Carries the upstream's HTTP status so a failed submit can answer the way OpenAI would have.
 */
export class UpstreamRejectedError extends RelayError {
  override name = "UpstreamRejectedError";
  readonly status: number;
  readonly type: string;
  constructor(
    message: string,
    options: { status: number; type?: string; code?: string | null; param?: string | null; cause?: unknown },
  ) {
    super(message, options);
    this.status = options.status;
    this.type = options.type ?? "invalid_request_error";
  }
}

/** A transient upstream fault (408/409/429/5xx, network): worth retrying later. */
export class UpstreamUnavailableError extends RelayError {
  override name = "UpstreamUnavailableError";
  readonly status: number | null;
  readonly retryAfterMs: number | null;
  /**
   * True when the request may have reached the upstream before the failure (a timeout or a reset
   * after sending): retrying a create could then start a second, billed response.
   */
  readonly ambiguous: boolean;
  constructor(
    message: string,
    options: { status?: number | null; retryAfterMs?: number | null; ambiguous?: boolean; cause?: unknown },
  ) {
    super(message, { cause: options.cause, code: "upstream_unavailable" });
    this.status = options.status ?? null;
    this.retryAfterMs = options.retryAfterMs ?? null;
    this.ambiguous = options.ambiguous ?? false;
  }
}

/** The upstream stream sent nothing for a long while: quiet (a model thinking), not broken. */
export class StreamIdleError extends UpstreamUnavailableError {
  override name = "StreamIdleError";
}

/**
 * The upstream refused the relay's own credentials (401/403). Not the job's fault nor the caller's:
 * running jobs stay pending, submits fail with a server error, and the upstream's message (which
 * names part of the relay's key) is never passed on.
 */
export class UpstreamAuthError extends RelayError {
  override name = "UpstreamAuthError";
  readonly status: number;
  constructor(status: number, options: { cause?: unknown } = {}) {
    super(
      `The upstream refused the relay's credentials (HTTP ${status}). The relay's operator must fix its upstream key.`,
      { code: "upstream_auth_failed", cause: options.cause },
    );
    this.status = status;
  }
}

/**
 * A blocking create waited as long as its front door allows and the job is still running. Not a
 * failure of the job: it keeps running, and the message names where to read it.
 */
export class StillRunningError extends RelayError {
  override name = "StillRunningError";
  readonly jobId: string;
  constructor(message: string, options: { jobId: string }) {
    super(message, { code: "response_still_running" });
    this.jobId = options.jobId;
  }
}

/** Every way an upstream call can fail, as the Upstream port throws it (adapters classify). */
export type UpstreamFailure = UpstreamRejectedError | UpstreamUnavailableError | UpstreamAuthError;

/**
 * The error an Upstream call threw, as one of the upstream failures; anything else is rethrown
 * unchanged, because the port throws nothing else and anything else is a bug.
 */
export function asUpstreamFailure(error: unknown): UpstreamFailure {
  if (
    error instanceof UpstreamRejectedError ||
    error instanceof UpstreamUnavailableError ||
    error instanceof UpstreamAuthError
  )
    return error;
  throw error;
}

/**
 * A tenant is over one of its limits (shared/domain/tenant-limits.ts): 429, with Retry-After and
 * OpenAI-style `x-ratelimit-*` headers, which the SDKs read as a RateLimitError.
 */
export class RateLimitedError extends RelayError {
  override name = "RateLimitedError";
  readonly retryAfterSeconds: number;
  readonly headers: Record<string, string>;
  constructor(
    message: string,
    options: { code: string; retryAfterSeconds: number; headers?: Record<string, string>; param?: string | null },
  ) {
    super(message, { code: options.code, param: options.param });
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.headers = options.headers ?? {};
  }
}

/**
 * The tenant's monthly spend limit is reached: 429 `insufficient_quota`, as OpenAI answers an
 * exhausted quota, marked not worth retrying (it will not change in seconds).
 */
export class QuotaExceededError extends RelayError {
  override name = "QuotaExceededError";
}

/** A conditional write lost a race: someone else changed the item first. */
export class VersionConflictError extends RelayError {
  override name = "VersionConflictError";
}

/**
 * A lifecycle move the job's current phase does not allow (shared/domain/lifecycle.ts). Read
 * fresh, the job has moved on: callers treat it as a lost race and re-read.
 */
export class IllegalTransitionError extends VersionConflictError {
  override name = "IllegalTransitionError";
}

/** Configuration is missing or malformed: fails the cold start loudly. */
export class ConfigError extends RelayError {
  override name = "ConfigError";
}
