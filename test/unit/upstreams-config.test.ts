import { describe, expect, it } from "vitest";
import { loadConfig } from "#shared/config.ts";
import { modelCatalog } from "#shared/domain/models.ts";
import { parseUpstreams } from "#shared/upstreams-config.ts";

const base = { RELAY_TABLE_NAME: "t" };
const doc = (extra: Record<string, unknown> = {}) => ({
  upstreams: {
    openai: { baseUrl: "https://api.openai.com/v1", background: true, key: { env: "OPENAI_API_KEY" } },
    ollama: { baseUrl: "http://127.0.0.1:11434", background: false, key: { header: "none" } },
  },
  models: [{ prefix: "llama", upstream: "ollama" }],
  defaultUpstream: "openai",
  ...extra,
});
const env = { OPENAI_API_KEY: "sk-x" };

describe("the upstreams configuration", () => {
  it("keeps the env-only setup: one upstream named openai serving every model", () => {
    const config = loadConfig({ ...base, OPENAI_API_KEY: "sk-x" });
    expect(config.upstreams).toMatchObject({ source: "env", primary: "openai", fallback: "openai" });
    expect(config.upstreams.upstreams).toHaveLength(1);
  });

  it("reads the document, resolves base URLs and key headers", () => {
    const parsed = parseUpstreams(doc(), env);
    expect(parsed.upstreams.map((u) => [u.name, u.baseUrl, u.keyHeader, u.background])).toEqual([
      ["openai", "https://api.openai.com/v1", "authorization", true],
      ["ollama", "http://127.0.0.1:11434/v1", "none", false],
    ]);
    expect(parsed).toMatchObject({ primary: "openai", fallback: "openai" });
    expect(parsed.emulation).toEqual({ onWorkerLost: "rerun", maxRuns: 3, leaseSeconds: 30 });
    expect(loadConfig({ ...base, ...env, RELAY_UPSTREAMS: JSON.stringify(doc()) }).upstreams.source).toBe("inline");
  });

  it.each([
    [{ upstreams: {} }, /must name at least one upstream/],
    [{ models: [{ prefix: "x", upstream: "nope" }] }, /models\[0\]\.upstream: no upstream is named "nope"/],
    [{ models: [{ model: "a", prefix: "a", upstream: "ollama" }] }, /needs exactly one of model, prefix/],
    [{ defaultUpstream: "azure" }, /defaultUpstream: no upstream is named "azure"/],
    [{ upstreams: { x: { baseUrl: "ftp://h", background: true } } }, /upstreams\.x\.baseUrl: must be an http\(s\) URL/],
    [{ upstreams: { Bad: { baseUrl: "http://h", background: false } } }, /names are lowercase/],
    [
      { upstreams: { c: { baseUrl: "http://h", api: "chat_completions", background: true, key: { header: "none" } } } },
      /Chat Completions has no background mode/,
    ],
    [{ upstreams: { o: { baseUrl: "http://h", background: true } } }, /upstreams\.o\.key: name the key's environment/],
    [{ upstreams: { o: { baseUrl: "http://h", background: true, key: { env: "MISSING" } } } }, /MISSING is not set/],
    [{ surprise: true }, /Unrecognized key/],
  ])("refuses a bad document with the path at fault (%#)", (patch, message) => {
    expect(() => parseUpstreams(doc(patch), env)).toThrow(message);
  });

  it("says what is wrong with the file, never its secrets", () => {
    expect(() => loadConfig({ ...base, RELAY_UPSTREAMS: "{not json" })).toThrow(/RELAY_UPSTREAMS is not valid JSON/);
    expect(() => loadConfig({ ...base, RELAY_UPSTREAMS_FILE: "/no/such/file.json" })).toThrow(
      /RELAY_UPSTREAMS_FILE \(\/no\/such\/file\.json\) could not be read \(ENOENT\)/,
    );
    const bad = doc({
      upstreams: { o: { baseUrl: "https://user:s3cret@h/v1", background: true, key: { env: "NOPE" } } },
    });
    const error = (() => {
      try {
        parseUpstreams(bad, env);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).not.toContain("s3cret");
  });
});

describe("routing models", () => {
  const catalog = modelCatalog({
    rules: [
      { prefix: "llama", upstream: "ollama", inputPerM: 0, outputPerM: 0 },
      { prefix: "llama3.1:70b", upstream: "big" },
      { model: "llama-special", upstream: "special", deadlineSeconds: 7200 },
    ],
    fallback: "openai",
    emulated: new Set(["ollama", "big", "special"]),
    emulatedMaxSeconds: 840,
  });

  it("takes the exact name first, then the longest prefix, then the default", () => {
    expect(catalog.route("llama-special")?.upstream).toBe("special");
    expect(catalog.route("llama3.1:70b-q4")?.upstream).toBe("big");
    expect(catalog.route("llama3.2")?.upstream).toBe("ollama");
    expect(catalog.route("gpt-5-pro")).toMatchObject({ upstream: "openai", emulated: false, inputPerM: 15 });
  });

  it("prices from the rule over the built-in catalog, and bounds emulated deadlines", () => {
    expect(catalog.route("llama3.2")).toMatchObject({ inputPerM: 0, outputPerM: 0, emulated: true });
    expect(catalog.route("llama-special")?.deadlineSeconds).toBe(840);
    expect(catalog.route("gpt-5-pro")?.deadlineSeconds).toBe(3600);
  });

  it("refuses models nobody serves when there is no default", () => {
    const strict = modelCatalog({ rules: [], fallback: null, emulated: new Set(), emulatedMaxSeconds: null });
    expect(strict.route("anything")).toBeNull();
  });
});
