import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
  AuthenticationError,
  ConfigError,
  IdempotencyInProgressError,
  IdempotencyMismatchError,
  InvalidRequestError,
  NotFoundError,
  PayloadTooLargeError,
  QuotaExceededError,
  RateLimitedError,
  RelayError,
  StillRunningError,
  UpstreamAuthError,
  UpstreamRejectedError,
  UnsupportedMediaTypeError,
  UpstreamUnavailableError,
  VersionConflictError,
} from "#shared/errors.ts";

/** OpenAI's error body, so the official SDKs raise the right APIError subclass. */
export function errorBody(message: string, type: string, param: string | null = null, code: string | null = null) {
  return { error: { message, type, param, code } };
}

const STATUS_BY_CLASS: [new (...args: never[]) => RelayError, ContentfulStatusCode, string][] = [
  [InvalidRequestError, 400, "invalid_request_error"],
  [AuthenticationError, 401, "invalid_request_error"],
  [NotFoundError, 404, "invalid_request_error"],
  [IdempotencyInProgressError, 409, "invalid_request_error"],
  [PayloadTooLargeError, 413, "invalid_request_error"],
  [UnsupportedMediaTypeError, 415, "invalid_request_error"],
  [IdempotencyMismatchError, 422, "invalid_request_error"],
  [VersionConflictError, 409, "invalid_request_error"],
  [UpstreamAuthError, 502, "server_error"],
  [UpstreamUnavailableError, 502, "server_error"],
  // The relay is the gateway, the upstream the slow server: what 504 means. The SDKs retry it,
  // and a retry attaches to the same job.
  [StillRunningError, 504, "server_error"],
  [ConfigError, 500, "server_error"],
];

/** The one place errors become HTTP. Unknown errors are logged and answered without detail. */
export function errorResponse(
  error: unknown,
  c: Context,
  log: (event: Record<string, unknown>) => void = console.error,
) {
  if (error instanceof UpstreamRejectedError) {
    return c.json(errorBody(error.message, error.type, error.param, error.code), error.status as ContentfulStatusCode);
  }
  if (error instanceof RateLimitedError) {
    for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
    c.header("Retry-After", String(error.retryAfterSeconds));
    // OpenAI's rate-limit errors: type "requests" for a request rate, the same shape for the rest.
    return c.json(errorBody(error.message, "requests", error.param, error.code), 429);
  }
  if (error instanceof QuotaExceededError) {
    // OpenAI's SDKs honour this: an exhausted quota is not retried.
    c.header("x-should-retry", "false");
    return c.json(errorBody(error.message, "insufficient_quota", error.param, "insufficient_quota"), 429);
  }
  if (error instanceof RelayError) {
    const match = STATUS_BY_CLASS.find(([cls]) => error instanceof cls);
    if (match) {
      return c.json(errorBody(error.message, match[2], error.param, error.code), match[1]);
    }
  }
  log({
    level: "error",
    msg: "unhandled error",
    // A path can be as long as the caller likes: log its start only.
    path: c.req.path.slice(0, 200),
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  });
  return c.json(errorBody("The relay had an internal error. Try again later.", "server_error"), 500);
}
