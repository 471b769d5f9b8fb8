import { describe, expect, it } from "vitest";
import { parseSubmitBody } from "#shared/http/submit-body.ts";
import { InvalidRequestError } from "#shared/errors.ts";

const fails = (body: unknown, param: string | null) => {
  try {
    parseSubmitBody(body);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).param).toBe(param);
    return (error as Error).message;
  }
  throw new Error("expected a validation error");
};

describe("submit body", () => {
  it("keeps the caller's fields as sent (background, store, unknown OpenAI fields) and takes the webhook out", () => {
    const parsed = parseSubmitBody({
      model: "gpt-5-pro",
      input: "hi",
      background: false,
      store: false,
      reasoning: { effort: "high" },
      webhook: { url: "https://example.com/hook" },
    });
    expect(parsed.body).toEqual({
      model: "gpt-5-pro",
      input: "hi",
      background: false,
      store: false,
      reasoning: { effort: "high" },
    });
    expect(parsed.webhook).toEqual({ url: "https://example.com/hook" });
    expect(parsed.mode).toBe("blocking");
    expect(parseSubmitBody({ model: "m", background: true }).mode).toBe("background");
    expect(parseSubmitBody({ model: "m", background: true, stream: true }).mode).toBe("stream");
  });
  it("takes all 16 metadata pairs OpenAI allows, any key included", () => {
    const metadata = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, "v"]));
    expect(parseSubmitBody({ model: "m", metadata: { ...metadata, relay_job_id: "x" } }).body.metadata).toHaveProperty(
      "relay_job_id",
      "x",
    );
  });
  it("names the missing or bad field like OpenAI does", () => {
    expect(fails({ input: "hi" }, "model")).toMatch(/Missing required parameter: 'model'/);
    expect(fails({ model: 5 }, "model")).toMatch(/Invalid 'model'/);
    fails({ model: "m", max_output_tokens: 3 }, "max_output_tokens");
    fails(
      { model: "m", metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) },
      "metadata",
    );
    fails({ model: "m", webhook: { url: "not a url" } }, "webhook.url");
    fails({ model: "m", webhook: { url: "https://x.example", extra: 1 } }, "webhook");
    fails({ model: "m", webhook: { url: "https://x.example", events: ["response.done"] } }, "webhook.events.0");
    fails([1, 2], null);
  });
});
