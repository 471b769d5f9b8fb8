/**
 * OpenAI-shaped error replies. One class carries status, body and extra headers so handlers just throw and
 * the server maps it to HTTP in one place. Messages copy the real API's wording where it is known
 * (docs/upstream-facts.md).
 */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: object,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
    this.name = "SimHttpError";
  }
}

function openAIError(
  status: number,
  message: string,
  type: string,
  param: string | null = null,
  code: string | null = null,
  headers: Record<string, string> = {},
): SimHttpError {
  const body: OpenAIErrorBody = { error: { message, type, param, code } };
  return new SimHttpError(status, body, headers);
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null) =>
  openAIError(400, message, "invalid_request_error", param, code);

export const responseNotFound = (id: string) =>
  openAIError(404, `Response with id '${id}' not found.`, "invalid_request_error", null, null);

/** Wording unconfirmed; modelled on the response one. */
export const conversationNotFound = (id: string) =>
  openAIError(404, `Conversation with id '${id}' not found.`, "invalid_request_error", null, null);

export const routeNotFound = (method: string, path: string, azure: boolean) =>
  azure
    ? // Azure's gateway answers unknown routes in its own shape.
      new SimHttpError(404, { error: { code: "404", message: "Resource not found" } })
    : openAIError(404, `Invalid URL (${method} ${path})`, "invalid_request_error");

export function unauthorized(presented: string | undefined, azure: boolean): SimHttpError {
  if (azure) {
    return new SimHttpError(401, {
      error: {
        code: "401",
        message:
          "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
      },
    });
  }
  if (!presented) {
    return openAIError(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
      "invalid_request_error",
    );
  }
  const masked = presented.length > 8 ? `${presented.slice(0, 4)}***${presented.slice(-4)}` : "***";
  return openAIError(
    401,
    `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`,
    "invalid_request_error",
    null,
    "invalid_api_key",
  );
}

/**
 * A fault's HTTP reply, worded as the real API words that status (relays classify on status and code, but
 * people and tests read the message): 429 rate limit / quota, 5xx server errors, 401/403/404 as usual.
 */
export function faultError(
  status: number,
  code: string | undefined,
  retryAfterSeconds: number | undefined,
  context: { responseId?: string; azure: boolean },
): SimHttpError {
  if (status === 429) {
    if (code === "insufficient_quota") {
      // Quota needs user action, so the real API sends no Retry-After unless asked to here.
      const headers: Record<string, string> =
        retryAfterSeconds !== undefined ? { "retry-after": String(retryAfterSeconds) } : {};
      return openAIError(
        429,
        "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
        "insufficient_quota",
        null,
        "insufficient_quota",
        headers,
      );
    }
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds ?? 1));
    return openAIError(
      429,
      `Rate limit reached for requests in organization org-simulator on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in ${seconds}s. Visit https://platform.openai.com/account/rate-limits to learn more.`,
      "requests",
      null,
      code ?? "rate_limit_exceeded",
      {
        "retry-after": String(seconds),
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": `${seconds}s`,
      },
    );
  }
  const headers: Record<string, string> =
    retryAfterSeconds !== undefined ? { "retry-after": String(retryAfterSeconds) } : {};
  if (status >= 500) {
    const message =
      status === 503
        ? "The server is overloaded or not ready yet."
        : "The server had an error while processing your request. Sorry about that!";
    return openAIError(status, message, "server_error", null, code ?? null, headers);
  }
  switch (status) {
    case 401: {
      const err = unauthorized("sk-simulated-fault", context.azure);
      return new SimHttpError(401, err.body, headers);
    }
    case 403:
      return openAIError(
        403,
        "Country, region, or territory not supported",
        "request_forbidden",
        null,
        code ?? "unsupported_country_region_territory",
        headers,
      );
    case 404:
      return context.responseId
        ? openAIError(
            404,
            `Response with id '${context.responseId}' not found.`,
            "invalid_request_error",
            null,
            code ?? null,
            headers,
          )
        : openAIError(
            404,
            "The requested resource was not found.",
            "invalid_request_error",
            null,
            code ?? null,
            headers,
          );
  }
  return openAIError(status, `Simulated error (HTTP ${status}).`, "invalid_request_error", null, code ?? null, headers);
}
