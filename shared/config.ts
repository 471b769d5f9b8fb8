import { ConfigError } from "./errors.ts";
import { resolveBaseUrl, keyHeaderFor, type KeyHeader } from "#shared/upstream/base-url.ts";
import { loadUpstreams, type UpstreamsConfig } from "./upstreams-config.ts";

/**
 * Configuration, read and validated once (at cold start, or when the local stack boots). A missing
 * or malformed value fails loudly here, naming the variable, never deep inside a request.
 */
export interface RelayConfig {
  tableName: string;
  /** DynamoDB Local's endpoint; unset in AWS. */
  dynamoEndpoint: string | undefined;
  /** AWS_REGION when set; otherwise the AWS SDK resolves it (profile, AWS_PROFILE, instance metadata). */
  region: string | undefined;
  openai: {
    /** Unset in AWS (the key comes from Secrets Manager via `apiKeySecretArn`). */
    apiKey: string | undefined;
    apiKeySecretArn: string | undefined;
    baseUrl: string;
    keyHeader: KeyHeader;
  };
  /** Every upstream and the model routes (`RELAY_UPSTREAMS_FILE`; else the one `openai` above). */
  upstreams: UpstreamsConfig;
  /**
   * The longest a job on an upstream without background mode may run, enforced as its deadline:
   * the worker function's limit in AWS (15 minutes, less a margin); unset locally (no bound).
   */
  workerMaxSeconds: number | null;
  openaiWebhookSecret: string | undefined;
  openaiWebhookSecretArn: string | undefined;
  /** Absolute public URL of the API (webhook payloads need absolute links); else taken per request. */
  publicBaseUrl: string | undefined;
  allowPrivateWebhooks: boolean;
  /** The relay's EventBridge bus; unset locally (events are logged instead). */
  eventBusName: string | undefined;
  /** CloudWatch namespace for EMF metrics and the stage dimension; unset: no metrics. */
  metricsNamespace: string | undefined;
  stage: string;
  maxBodyBytes: number;
  dueShards: number;
  pollTickMs: number;
  pollConcurrency: number;
  retentionDays: number;
  createGraceMs: number;
  confirmSlackMs: number;
  pushFreshMs: number;
  /** Create every native upstream response streaming, so the poller can watch it live (not on Azure). */
  watchStreams: boolean;
  /** Upstream streams one poller invocation holds at once; past it, jobs are polled (0 without `watchStreams`). */
  maxWatches: number;
  idempotencyTtlSeconds: number;
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function required(env: Env, name: string): string {
  const value = read(env, name);
  if (!value) throw new ConfigError(`${name} is required but not set.`);
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}".`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (["true", "1", "yes"].includes(raw)) return true;
  if (["false", "0", "no"].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}".`);
}

function url(env: Env, name: string): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  try {
    const parsed = new URL(raw);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("scheme");
    return raw.replace(/\/+$/, "");
  } catch {
    // The value is not echoed: a URL may carry credentials.
    throw new ConfigError(`${name} must be an http(s) URL.`);
  }
}

function oneOf(env: Env, name: string, allowed: string[]): string | undefined {
  const raw = read(env, name)?.toLowerCase();
  if (raw !== undefined && !allowed.includes(raw))
    throw new ConfigError(`${name} must be one of ${allowed.join(", ")}.`);
  return raw;
}

export function loadConfig(env: Env = process.env): Readonly<RelayConfig> {
  const baseUrl = resolveBaseUrl(url(env, "OPENAI_BASE_URL"));
  // Checked where it is used (shared/secrets): a malformed optional secret switches off OpenAI
  // webhooks with a clear log line; it must not stop the API from starting.
  const webhookSecret = read(env, "OPENAI_WEBHOOK_SECRET");
  const keyHeader = keyHeaderFor(baseUrl, oneOf(env, "OPENAI_API_KEY_HEADER", ["api-key", "authorization"]));
  const upstreams = loadUpstreams(env, {
    baseUrl,
    keyHeader,
    apiKey: read(env, "OPENAI_API_KEY"),
    apiKeySecretArn: read(env, "OPENAI_API_KEY_SECRET_ARN"),
  });
  const workerMax = read(env, "RELAY_WORKER_MAX_SECONDS");
  const watchStreams = boolean(env, "RELAY_WATCH_STREAMS", true);
  return Object.freeze({
    tableName: required(env, "RELAY_TABLE_NAME"),
    dynamoEndpoint: url(env, "DYNAMODB_ENDPOINT"),
    region: read(env, "AWS_REGION"),
    openai: Object.freeze({
      apiKey: read(env, "OPENAI_API_KEY"),
      apiKeySecretArn: read(env, "OPENAI_API_KEY_SECRET_ARN"),
      baseUrl,
      keyHeader,
    }),
    upstreams,
    workerMaxSeconds: workerMax === undefined ? null : integer(env, "RELAY_WORKER_MAX_SECONDS", 840, 60, 86_400),
    openaiWebhookSecret: webhookSecret,
    openaiWebhookSecretArn: read(env, "OPENAI_WEBHOOK_SECRET_ARN"),
    publicBaseUrl: url(env, "RELAY_PUBLIC_URL"),
    allowPrivateWebhooks: boolean(env, "RELAY_ALLOW_PRIVATE_WEBHOOKS", false),
    eventBusName: read(env, "RELAY_EVENT_BUS_NAME"),
    metricsNamespace: read(env, "RELAY_METRICS_NAMESPACE"),
    stage: read(env, "RELAY_STAGE") ?? "local",
    maxBodyBytes: integer(env, "RELAY_MAX_BODY_BYTES", 5 * 1024 * 1024, 1024, 6 * 1024 * 1024),
    dueShards: integer(env, "RELAY_DUE_SHARDS", 8, 1, 64),
    pollTickMs: integer(env, "RELAY_POLL_TICK_MS", 2000, 100, 30_000),
    pollConcurrency: integer(env, "RELAY_POLL_CONCURRENCY", 16, 1, 256),
    // Long enough to outlive a job's deadline plus the webhook retry schedule (~28 h, Retry-After up to a day).
    retentionDays: integer(env, "RELAY_RETENTION_DAYS", 30, 4, 3650),
    // Above the upstream call timeout (20 s): a slow create must not be taken for a lost one.
    createGraceMs: integer(env, "RELAY_CREATE_GRACE_MS", 120_000, 30_000, 3_600_000),
    // How long past its deadline a create whose answer was lost waits for OpenAI's webhook about it.
    confirmSlackMs: integer(env, "RELAY_CONFIRM_SLACK_MS", 1_800_000, 0, 86_400_000),
    // How recent OpenAI's last verified webhook must be for polls to back off to a backstop
    // (0: never). Past it, jobs are polled on the usual schedule again.
    pushFreshMs: integer(env, "RELAY_PUSH_FRESH_MS", 1_800_000, 0, 86_400_000),
    watchStreams,
    maxWatches: watchStreams ? integer(env, "RELAY_MAX_WATCHES", 1000, 0, 20_000) : 0,
    idempotencyTtlSeconds: integer(env, "RELAY_IDEMPOTENCY_TTL_SECONDS", 86_400, 86_400, 30 * 86_400),
  });
}
