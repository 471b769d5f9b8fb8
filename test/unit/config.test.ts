import { describe, expect, it } from "vitest";
import { loadConfig } from "#shared/config.ts";
import { ConfigError } from "#shared/errors.ts";

const base = { RELAY_TABLE_NAME: "t" };

describe("configuration", () => {
  it("fails loudly, naming the variable", () => {
    expect(() => loadConfig({})).toThrow(/RELAY_TABLE_NAME is required/);
    expect(() => loadConfig({ ...base, RELAY_POLL_TICK_MS: "fast" })).toThrow(/RELAY_POLL_TICK_MS must be an integer/);
    expect(() => loadConfig({ ...base, RELAY_ALLOW_PRIVATE_WEBHOOKS: "maybe" })).toThrow(
      /RELAY_ALLOW_PRIVATE_WEBHOOKS must be true or false/,
    );
    expect(() => loadConfig({ ...base, OPENAI_API_KEY_HEADER: "x-key" })).toThrow(
      /OPENAI_API_KEY_HEADER must be one of/,
    );
    // Not a start-up failure: shared/secrets checks it and switches off only OpenAI webhooks.
    expect(loadConfig({ ...base, OPENAI_WEBHOOK_SECRET: "plain" }).openaiWebhookSecret).toBe("plain");
    expect(() => loadConfig({ ...base, RELAY_CREATE_GRACE_MS: "1000" })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, RELAY_RETENTION_DAYS: "1" })).toThrow(ConfigError);
  });

  it("never echoes a URL that may carry credentials", () => {
    const error = (() => {
      try {
        loadConfig({ ...base, OPENAI_BASE_URL: "ftp://user:s3cret@example.com" });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/OPENAI_BASE_URL must be an http\(s\) URL/);
    expect(error?.message).not.toContain("s3cret");
  });

  it("defaults to OpenAI with Bearer auth and picks api-key for Azure hosts", () => {
    const config = loadConfig(base);
    expect(config.openai).toMatchObject({ baseUrl: "https://api.openai.com/v1", keyHeader: "authorization" });
    expect(loadConfig({ ...base, OPENAI_BASE_URL: "https://r.openai.azure.com/openai/v1/" }).openai).toMatchObject({
      baseUrl: "https://r.openai.azure.com/openai/v1",
      keyHeader: "api-key",
    });
    expect(Object.isFrozen(config)).toBe(true);
  });
});
