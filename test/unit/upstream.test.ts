import { describe, expect, it } from "vitest";
import OpenAI from "openai";
import { keyHeaderFor, resolveBaseUrl } from "#shared/upstream/base-url.ts";
import { classifyUpstreamError as classifyOrNull } from "#shared/upstream/classify-error.ts";
import { retryAfterMs } from "#shared/retry-after.ts";
import {
  asUpstreamFailure,
  UpstreamAuthError,
  UpstreamRejectedError,
  UpstreamUnavailableError,
  type UpstreamFailure,
} from "#shared/errors.ts";

describe("upstream base URL", () => {
  it.each([
    [undefined, "https://api.openai.com/v1"],
    ["https://api.openai.com", "https://api.openai.com/v1"],
    ["https://api.openai.com/v1", "https://api.openai.com/v1"],
    ["https://api.openai.com/v1/", "https://api.openai.com/v1"],
    ["https://res.openai.azure.com/openai/v1", "https://res.openai.azure.com/openai/v1"],
    ["https://res.openai.azure.com/openai/v1/", "https://res.openai.azure.com/openai/v1"],
    ["https://gateway.example.com/proxy", "https://gateway.example.com/proxy/v1"],
  ])("%s -> %s (never a second /v1)", (input, expected) => {
    expect(resolveBaseUrl(input)).toBe(expected);
  });
  it("sends Azure keys in api-key, detected from the host or set explicitly", () => {
    expect(keyHeaderFor("https://res.openai.azure.com/openai/v1")).toBe("api-key");
    expect(keyHeaderFor("https://res.cognitiveservices.azure.com/openai/v1")).toBe("api-key");
    expect(keyHeaderFor("https://api.openai.com/v1")).toBe("authorization");
    expect(keyHeaderFor("https://my-gateway.example.com/openai/v1", "api-key")).toBe("api-key");
  });
});

/** The classification of an error the SDK threw (every case below is an upstream failure). */
function classifyUpstreamError(error: unknown): UpstreamFailure {
  const classified = classifyOrNull(error);
  if (!classified) throw new Error("expected an upstream failure");
  return classified;
}

const apiError = (status: number, body: object, headers: Record<string, string> = {}) =>
  OpenAI.APIError.generate(status, { error: body }, undefined, new Headers(headers));

describe("upstream error classification", () => {
  it.each([400, 404, 422])("%i is permanent", (status) => {
    expect(classifyUpstreamError(apiError(status, { message: "no", type: "invalid_request_error" }))).toBeInstanceOf(
      UpstreamRejectedError,
    );
  });
  it.each([408, 409, 429, 500, 502, 503, 504])("%i is transient", (status) => {
    expect(classifyUpstreamError(apiError(status, { message: "busy" }))).toBeInstanceOf(UpstreamUnavailableError);
  });
  it.each([401, 403])(
    "%i is the relay's own credentials failing, never passed on as the upstream said it",
    (status) => {
      const error = classifyUpstreamError(
        apiError(status, { message: "Incorrect API key provided: sk-...abcd", type: "invalid_request_error" }),
      );
      expect(error).toBeInstanceOf(UpstreamAuthError);
      expect(error.message).not.toContain("abcd");
    },
  );
  it("treats a gateway's 502/504 on create as ambiguous (the request may have gone through), 500/503 as not", () => {
    expect(
      (classifyUpstreamError(apiError(502, { message: "bad gateway" })) as UpstreamUnavailableError).ambiguous,
    ).toBe(true);
    expect(
      (classifyUpstreamError(apiError(504, { message: "gateway timeout" })) as UpstreamUnavailableError).ambiguous,
    ).toBe(true);
    expect((classifyUpstreamError(apiError(500, { message: "oops" })) as UpstreamUnavailableError).ambiguous).toBe(
      false,
    );
    expect((classifyUpstreamError(apiError(503, { message: "busy" })) as UpstreamUnavailableError).ambiguous).toBe(
      false,
    );
  });
  it("treats insufficient_quota as permanent even on 429", () => {
    const error = classifyUpstreamError(
      apiError(429, { message: "quota", type: "insufficient_quota", code: "insufficient_quota" }),
    );
    expect(error).toBeInstanceOf(UpstreamRejectedError);
    expect((error as UpstreamRejectedError).status).toBe(429);
  });
  it("reads Retry-After in its three spellings", () => {
    const error = classifyUpstreamError(
      apiError(429, { message: "slow down", code: "rate_limit_exceeded" }, { "retry-after": "7" }),
    );
    expect((error as UpstreamUnavailableError).retryAfterMs).toBe(7000);
    expect(retryAfterMs(new Headers({ "retry-after-ms": "250" }))).toBe(250);
    expect(retryAfterMs(new Headers({ "x-ms-retry-after-ms": "1500" }))).toBe(1500);
    expect(retryAfterMs(new Headers({ "retry-after": new Date(10_000).toUTCString() }), 4000)).toBe(6000);
  });
  it("knows a refused connection never carried the request, a timeout might have", () => {
    const refused = new OpenAI.APIConnectionError({
      cause: Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } }),
    });
    expect((classifyUpstreamError(refused) as UpstreamUnavailableError).ambiguous).toBe(false);
    expect((classifyUpstreamError(new OpenAI.APIConnectionTimeoutError()) as UpstreamUnavailableError).ambiguous).toBe(
      true,
    );
  });
  it("reads a body cut off mid-way or a body that is not JSON as an ambiguous upstream fault", () => {
    const terminated = new TypeError("terminated", {
      cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }),
    });
    expect((classifyUpstreamError(terminated) as UpstreamUnavailableError).ambiguous).toBe(true);
    expect((classifyUpstreamError(new SyntaxError("Unexpected token <")) as UpstreamUnavailableError).ambiguous).toBe(
      true,
    );
  });
  it("leaves a bug a bug: what is not an upstream failure is not classified, and the port's callers rethrow it", () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
    expect(classifyOrNull(bug)).toBeNull();
    expect(() => asUpstreamFailure(bug)).toThrow(bug);
    const refused = apiError(400, { message: "no" });
    expect(asUpstreamFailure(classifyUpstreamError(refused))).toBeInstanceOf(UpstreamRejectedError);
  });
});
