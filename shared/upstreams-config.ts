import { readFileSync } from "node:fs";
import type { ModelRule } from "#shared/domain/models.ts";
import type { WorkerLostPolicy } from "./ports.ts";
import { ConfigError } from "./errors.ts";
import * as s from "./schema.ts";
import { keyHeaderFor, resolveBaseUrl } from "#shared/upstream/base-url.ts";

/** How an upstream takes its key: a bearer token, Azure's `api-key` header, or none (a local server). */
type UpstreamKeyHeader = "authorization" | "api-key" | "none";
/** Which API an upstream speaks: OpenAI's Responses API, or only Chat Completions. */
type UpstreamApi = "responses" | "chat_completions";

export interface UpstreamConfig {
  name: string;
  baseUrl: string;
  api: UpstreamApi;
  /** Native background mode (OpenAI, Azure); false: the relay runs the request itself. */
  background: boolean;
  keyHeader: UpstreamKeyHeader;
  /** The key read from the environment variable the file names (locally); never from the file. */
  apiKey: string | undefined;
  /** Secrets Manager ARN of the key (in AWS), read through the secret cache. */
  apiKeySecretArn: string | undefined;
  /** A held upstream stream silent this long is taken as broken (a slow local model is quiet while it reads the prompt). */
  idleSeconds: number;
}

export interface UpstreamsConfig {
  /** Where it came from, for the start-up banner: the file, the inline variable, or the OPENAI_* variables. */
  source: "file" | "inline" | "env";
  upstreams: readonly UpstreamConfig[];
  models: readonly ModelRule[];
  /**
   * The upstream whose response ids are stored as it gives them (jobs from an env-only setup, and
   * OpenAI's webhooks, find theirs); the others' carry a `<name>:` prefix.
   */
  primary: string | null;
  /** The upstream for models no rule names; null: such models are refused. */
  fallback: string | null;
  emulation: { onWorkerLost: WorkerLostPolicy; maxRuns: number; leaseSeconds: number };
}

const NAME = /^[a-z][a-z0-9_-]{0,31}$/;

const httpUrl = s.refine(
  s.string(),
  (value) => {
    try {
      const url = new URL(value);
      return url.protocol === "http:" || url.protocol === "https:";
    } catch {
      return false;
    }
  },
  "must be an http(s) URL",
);

const price = s.nullish(s.number({ min: 0 }));
const seconds = (min: number, max: number) => s.number({ int: true, min, max });

const upstreamSchema = s.object(
  {
    baseUrl: httpUrl,
    api: s.withDefault(s.oneOf(["responses", "chat_completions"]), "responses"),
    background: s.boolean(),
    key: s.optional(
      s.object(
        {
          header: s.optional(s.oneOf(["authorization", "api-key", "none"])),
          env: s.optional(
            s.refine(s.string(), (v) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(v), "must be an environment variable name"),
          ),
          secretArn: s.optional(s.refine(s.string(), (v) => v.startsWith("arn:"), "must be a Secrets Manager ARN")),
        },
        "strict",
      ),
    ),
    idleSeconds: s.withDefault(seconds(10, 3600), 300),
  },
  "strict",
);

const modelRuleSchema = s.refine(
  s.object(
    {
      model: s.optional(s.string({ min: 1 })),
      prefix: s.optional(s.string({ min: 1 })),
      upstream: s.string(),
      inputPerM: price,
      cachedInputPerM: price,
      outputPerM: price,
      deadlineSeconds: s.optional(seconds(10, 7 * 86_400)),
      queuedLimitSeconds: s.optional(seconds(10, 7 * 86_400)),
    },
    "strict",
  ),
  (rule) => (rule.model === undefined) !== (rule.prefix === undefined),
  "needs exactly one of model, prefix",
);

const fileSchema = s.object(
  {
    upstreams: s.refine(
      s.record(s.string(), upstreamSchema),
      (upstreams) => Object.keys(upstreams).length > 0,
      "must name at least one upstream",
    ),
    models: s.withDefault(s.array(modelRuleSchema), []),
    defaultUpstream: s.nullish(s.string()),
    emulation: s.withDefault(
      s.object(
        {
          onWorkerLost: s.withDefault(s.oneOf(["rerun", "fail"]), "rerun"),
          maxRuns: s.withDefault(s.number({ int: true, min: 1, max: 10 }), 3),
          leaseSeconds: s.withDefault(s.number({ int: true, min: 5, max: 300 }), 30),
        },
        "strict",
      ),
      { onWorkerLost: "rerun", maxRuns: 3, leaseSeconds: 30 },
    ),
  },
  "strict",
);

type Env = Record<string, string | undefined>;

const read = (env: Env, name: string) => env[name]?.trim() || undefined;

/**
 * The upstreams and model routes, from `RELAY_UPSTREAMS_FILE` (a JSON file), or `RELAY_UPSTREAMS`
 * (the same JSON inline, which is how CDK passes it to Lambda), or else the OPENAI_* variables (one
 * upstream, every model routed to it). Every problem stops the start with the offending path;
 * values that may be secret (URLs, keys) are never echoed.
 */
export function loadUpstreams(
  env: Env,
  single: { baseUrl: string; keyHeader: "authorization" | "api-key"; apiKey?: string; apiKeySecretArn?: string },
): UpstreamsConfig {
  const file = read(env, "RELAY_UPSTREAMS_FILE");
  const inline = read(env, "RELAY_UPSTREAMS");
  if (file && inline) throw new ConfigError("Set RELAY_UPSTREAMS_FILE or RELAY_UPSTREAMS, not both.");
  if (!file && !inline) {
    return {
      source: "env",
      upstreams: [
        {
          name: "openai",
          baseUrl: single.baseUrl,
          api: "responses",
          background: true,
          keyHeader: single.keyHeader,
          apiKey: single.apiKey,
          apiKeySecretArn: single.apiKeySecretArn,
          idleSeconds: 300,
        },
      ],
      models: [],
      primary: "openai",
      fallback: "openai",
      emulation: { onWorkerLost: "rerun", maxRuns: 3, leaseSeconds: 30 },
    };
  }
  const where = file ? `RELAY_UPSTREAMS_FILE (${file})` : "RELAY_UPSTREAMS";
  let text: string;
  if (file) {
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new ConfigError(`${where} could not be read (${(error as NodeJS.ErrnoException).code ?? "error"}).`);
    }
  } else text = inline!;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(`${where} is not valid JSON.`);
  }
  return parseUpstreams(raw, env, where, file ? "file" : "inline");
}

/** Validates a parsed upstreams document (exported for the unit tests and the README's example). */
export function parseUpstreams(
  raw: unknown,
  env: Env,
  where = "the upstreams configuration",
  source: "file" | "inline" = "inline",
): UpstreamsConfig {
  const parsed = s.safeParse(fileSchema, raw);
  if (!parsed.ok) {
    const lines = parsed.issues.slice(0, 5).map((issue) => {
      const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
      return `${path.replace(/^\./, "") || "(top level)"}: ${issue.message}`;
    });
    throw new ConfigError(`${where} is invalid: ${lines.join("; ")}.`);
  }
  const doc = parsed.value;
  const fail = (message: string): never => {
    throw new ConfigError(`${where} is invalid: ${message}.`);
  };
  for (const name of Object.keys(doc.upstreams))
    if (!NAME.test(name))
      fail(`upstreams.${name}: names are lowercase letters, digits, - and _ (up to 32), starting with a letter`);
  const upstreams: UpstreamConfig[] = Object.entries(doc.upstreams).map(([name, u]) => {
    const baseUrl = resolveBaseUrl(u.baseUrl);
    const keyHeader: UpstreamKeyHeader = u.key?.header ?? keyHeaderFor(baseUrl);
    if (u.api === "chat_completions" && u.background)
      fail(`upstreams.${name}: Chat Completions has no background mode; set background: false`);
    if (keyHeader !== "none" && !u.key?.env && !u.key?.secretArn)
      fail(
        `upstreams.${name}.key: name the key's environment variable (env) or secret (secretArn), or set header: "none"`,
      );
    if (u.key?.env && u.key.secretArn) fail(`upstreams.${name}.key: env and secretArn are alternatives; set one`);
    const apiKey = u.key?.env ? read(env, u.key.env) : undefined;
    // Locally the key must be there at start; in AWS it comes from the secret (read when used).
    if (u.key?.env && keyHeader !== "none" && !apiKey) fail(`upstreams.${name}.key.env: ${u.key.env} is not set`);
    return {
      name,
      baseUrl,
      api: u.api,
      background: u.background,
      keyHeader,
      apiKey,
      apiKeySecretArn: u.key?.secretArn,
      idleSeconds: u.idleSeconds,
    };
  });
  const names = new Set(upstreams.map((u) => u.name));
  doc.models.forEach((rule, i) => {
    if (!names.has(rule.upstream)) fail(`models[${i}].upstream: no upstream is named "${rule.upstream}"`);
  });
  const seen = new Set<string>();
  for (const rule of doc.models) {
    const key = rule.model !== undefined ? `model ${rule.model.toLowerCase()}` : `prefix ${rule.prefix!.toLowerCase()}`;
    if (seen.has(key)) fail(`models: ${key} is routed twice`);
    seen.add(key);
  }
  const fallback = doc.defaultUpstream ?? null;
  if (fallback !== null && !names.has(fallback)) fail(`defaultUpstream: no upstream is named "${fallback}"`);
  return {
    source,
    upstreams,
    models: doc.models,
    primary: upstreams.find((u) => u.background)?.name ?? null,
    fallback,
    emulation: doc.emulation,
  };
}
