import { systemClock, type Clock } from "./clock.ts";
import type { RelayConfig } from "./config.ts";
import { ConfigError } from "./errors.ts";
import { LoggingEventPublisher } from "#shared/events/eventbridge-publisher.ts";
import { jsonLog, type Log } from "./log.ts";
import { EmfMetrics, meteredUpstream, noMetrics, type Metrics } from "./metrics.ts";
import type { Deps, EventPublisher, Upstream, WebhookSender } from "./ports.ts";
import { DynamoDeliveryLog } from "#shared/store/dynamo-delivery-log.ts";
import { DynamoEndpointHealthStore } from "#shared/store/dynamo-endpoint-health.ts";
import { DynamoEventLog } from "#shared/store/dynamo-event-store.ts";
import { DynamoInbox } from "#shared/store/dynamo-inbox.ts";
import { HttpWebhookSender } from "#shared/webhooks/http-sender.ts";
import type { Resolver } from "#shared/webhooks/address-policy.ts";
import { createDynamoClients, type CapacityMeter } from "#shared/store/dynamo-client.ts";
import { DynamoJobStore } from "#shared/store/dynamo-job-store.ts";
import { DynamoLeaseStore } from "#shared/store/dynamo-lease-store.ts";
import { DynamoTenantQuotas } from "#shared/store/dynamo-tenant-quotas.ts";
import { DynamoTenantStore } from "#shared/store/dynamo-tenant-store.ts";
import { OpenAIUpstream } from "#shared/upstream/openai-upstream.ts";
import { isAzureHost, resolveBaseUrl } from "#shared/upstream/base-url.ts";
import { RotatingUpstream } from "#shared/secrets/rotating-upstream.ts";
import { modelCatalog } from "#shared/domain/models.ts";
import type { DirectUpstream, Emulation } from "./ports.ts";
import { ChatCompletionsUpstream, ResponsesDirectUpstream } from "#shared/upstream/direct-upstream.ts";
import { UpstreamRegistry } from "#shared/upstream/upstream-registry.ts";
import { EmulatedUpstream, LocalWorkers } from "#shared/streaming/emulated-upstream.ts";
import type { UpstreamConfig } from "./upstreams-config.ts";
import type { Job } from "#shared/domain/job.ts";
import { PromptDeliveries } from "#shared/poller/prompt-deliveries.ts";

export interface RuntimeOverrides {
  upstream?: Upstream;
  /** The upstream key when it does not come from config (Secrets Manager in AWS, the simulator locally). */
  openaiApiKey?: string;
  /** Read before each upstream call (cached with a max age): a rotated key takes effect warm. */
  openaiApiKeySource?: () => Promise<string | undefined>;
  /** OpenAI's webhook secret as the HTTP API reads it (Secrets Manager in AWS): unset or invalid, none. */
  openaiWebhookSecretSource?: () => Promise<string | undefined>;
  clock?: Clock;
  meter?: CapacityMeter;
  events?: EventPublisher;
  webhooks?: WebhookSender;
  /** DNS for webhook hosts (tests inject one; no network needed). */
  resolve?: Resolver;
  log?: Log;
  metrics?: Metrics;
  /**
   * Reads a configured upstream's key from its Secrets Manager ARN (cached with a max age, as the
   * OpenAI key is); unset locally, where keys come from the variables the upstreams file names.
   */
  secretKey?: (arn: string) => () => Promise<string | undefined>;
  /**
   * Starts the worker for a job on an upstream without background mode: a worker function invoked
   * asynchronously in AWS. Unset: the worker runs in this process (the local stack, the tests).
   */
  dispatchWorker?: (jobId: string) => Promise<void>;
  /**
   * Sends the webhook of a job that ended outside the poller: the poller function invoked
   * asynchronously in AWS. Unset: a delivery lane in this process (the local stack, the tests).
   */
  dispatchDelivery?: (jobId: string) => Promise<void>;
  /** Wraps each AWS SDK client as it is built (X-Ray tracing in AWS: functions/tracing.ts). */
  instrument?: <T extends object>(client: T) => T;
}

const localWorkerPools = new WeakMap<Deps, LocalWorkers>();
const promptLanes = new WeakMap<Deps, PromptDeliveries>();

/** The in-process lane of these Deps' prompt webhook sends (null when they go elsewhere, as in AWS). */
export function promptDeliveriesOf(deps: Deps): PromptDeliveries | null {
  return promptLanes.get(deps) ?? null;
}

/** The in-process worker pool of these Deps (null when workers run elsewhere, as in AWS). */
export function localWorkersOf(deps: Deps): LocalWorkers | null {
  return localWorkerPools.get(deps) ?? null;
}

/**
 * The composition root: builds every adapter once from validated config. Lambda entry points call
 * it at cold start; the local stack and the tests call it with local endpoints.
 */
export function createDeps(config: RelayConfig, overrides: RuntimeOverrides = {}): Deps {
  const { doc } = createDynamoClients({
    endpoint: config.dynamoEndpoint,
    region: config.region,
    meter: overrides.meter,
    instrument: overrides.instrument,
  });
  const tableName = config.tableName;
  const clock = overrides.clock ?? systemClock;
  const upstreams = config.upstreams;
  const emulatedNames = new Set(upstreams.upstreams.filter((u) => !u.background).map((u) => u.name));
  const models = modelCatalog({
    rules: upstreams.models,
    fallback: upstreams.fallback,
    emulated: emulatedNames,
    emulatedMaxSeconds: config.workerMaxSeconds,
  });
  // Filled in below, once the Deps these upstreams serve exist.
  let built: Deps | null = null;
  const self = () => built!;
  const byName = new Map<string, Upstream>();
  const direct = new Map<string, DirectUpstream>();
  for (const u of upstreams.upstreams) {
    if (u.background) byName.set(u.name, nativeUpstream(u, config, overrides, upstreams.source === "env"));
    else {
      direct.set(u.name, directUpstream(u, overrides, clock));
      byName.set(u.name, new EmulatedUpstream(u.name, self));
    }
  }
  const upstream = new UpstreamRegistry({
    upstreams: byName,
    primary: upstreams.primary,
    route: (model) => models.route(model)?.upstream ?? null,
  });
  const log = overrides.log ?? jsonLog;
  // Lifecycle events leave by the table's stream (docs/lifecycle-outbox.md), published by whoever
  // reads it: the outbox function in AWS, which builds no Deps, and the local stack's outbox,
  // which passes its publisher in (local/start.ts). So the Lambda functions that build Deps never
  // publish, and their bundles carry no EventBridge client.
  const events = overrides.events ?? new LoggingEventPublisher(log);
  // The caller's webhook of a job that ended outside the poller: another function in AWS, a
  // delivery lane in this process otherwise.
  const dispatchDelivery = overrides.dispatchDelivery;
  const prompt = dispatchDelivery ? null : new PromptDeliveries(self, log);
  const dispatch = dispatchDelivery
    ? async (job: Job) => {
        try {
          await dispatchDelivery(job.id);
        } catch (error) {
          // The due index still holds the delivery: the poller sends it at its next look.
          log({
            level: "warn",
            msg: "webhook dispatch failed; the poller sends it",
            jobId: job.id,
            error: String(error),
          });
        }
      }
    : null;
  const metrics =
    overrides.metrics ?? (config.metricsNamespace ? new EmfMetrics(config.metricsNamespace, config.stage) : noMetrics);
  const deps: Deps = {
    eventLog: new DynamoEventLog({ doc, tableName, retentionDays: config.retentionDays, now: () => clock.now() }),
    jobs: new DynamoJobStore({ doc, tableName, shards: config.dueShards, retentionDays: config.retentionDays }),
    tenants: new DynamoTenantStore({ doc, tableName }),
    leases: new DynamoLeaseStore({ doc, tableName }),
    deliveries: new DynamoDeliveryLog({ doc, tableName, retentionDays: config.retentionDays }),
    endpoints: new DynamoEndpointHealthStore({ doc, tableName }),
    quotas: new DynamoTenantQuotas({ doc, tableName }),
    inbox: new DynamoInbox({ doc, tableName }),
    webhooks:
      overrides.webhooks ??
      new HttpWebhookSender({ allowPrivate: config.allowPrivateWebhooks, resolve: overrides.resolve }),
    events,
    metrics,
    // Counted where every upstream call passes: call count, failures, ambiguous creates.
    upstream: meteredUpstream(upstream, metrics),
    clock,
    settings: {
      publicBaseUrl: config.publicBaseUrl ?? "",
      idempotencyTtlSeconds: config.idempotencyTtlSeconds,
      createGraceMs: config.createGraceMs,
      confirmSlackMs: config.confirmSlackMs,
      pushFreshMs: config.pushFreshMs,
      findsLostCreates: overrides.openaiWebhookSecretSource
        ? async () => Boolean(await overrides.openaiWebhookSecretSource?.())
        : async () => Boolean(config.openaiWebhookSecret),
    },
    models,
    deliverSoon: (job) => (dispatch ? dispatch(job) : prompt!.deliver(job)),
  };
  if (prompt) promptLanes.set(deps, prompt);
  if (direct.size > 0) {
    const workers = overrides.dispatchWorker ? null : new LocalWorkers(self, log);
    if (workers) localWorkerPools.set(deps, workers);
    const emulation: Emulation = {
      direct,
      dispatch: async (jobId) => {
        try {
          await (overrides.dispatchWorker ?? ((id: string) => workers!.dispatch(id)))(jobId);
        } catch (error) {
          // The poller dispatches again at its next look: a lost dispatch only costs time.
          log({ level: "error", msg: "worker dispatch failed", jobId, error: String(error) });
        }
      },
      interrupt: (jobId) => workers?.interrupt(jobId),
      settings: {
        leaseMs: upstreams.emulation.leaseSeconds * 1000,
        onWorkerLost: upstreams.emulation.onWorkerLost,
        maxRuns: upstreams.emulation.maxRuns,
      },
    };
    deps.emulation = emulation;
  }
  built = deps;
  return deps;
}

/** An upstream with background mode of its own (OpenAI, Azure), through the official SDK. */
function nativeUpstream(
  u: UpstreamConfig,
  config: RelayConfig,
  overrides: RuntimeOverrides,
  envOnly: boolean,
): Upstream {
  const options = { baseUrl: u.baseUrl, keyHeader: u.keyHeader === "none" ? undefined : u.keyHeader };
  // Azure's background streams are slow and its gateways cut quiet ones (docs/upstream-facts.md): polled only.
  const watchCreates = config.watchStreams && !isAzureHost(resolveBaseUrl(u.baseUrl));
  const sdk = (key: string) =>
    new OpenAIUpstream({
      apiKey: key,
      baseUrl: u.baseUrl,
      keyHeader: options.keyHeader ?? "authorization",
      watchCreates,
    });
  // The single env-configured upstream keeps its own overrides (tests inject one; AWS rotates its key).
  if (envOnly) {
    if (overrides.upstream) return overrides.upstream;
    if (overrides.openaiApiKeySource) return new RotatingUpstream(overrides.openaiApiKeySource, sdk, watchCreates);
    const apiKey = overrides.openaiApiKey ?? config.openai.apiKey;
    if (!apiKey)
      throw new ConfigError("No upstream key: set OPENAI_API_KEY (locally) or OPENAI_API_KEY_SECRET_ARN (in AWS).");
    return sdk(apiKey);
  }
  if (u.keyHeader === "none") return sdk("none");
  if (u.apiKeySecretArn) {
    if (!overrides.secretKey)
      throw new ConfigError(`upstream ${u.name}: its key is a secret ARN, which only AWS reads.`);
    return new RotatingUpstream(overrides.secretKey(u.apiKeySecretArn), sdk, watchCreates);
  }
  return sdk(u.apiKey!);
}

/** An upstream without background mode: the request the relay's worker holds open. */
function directUpstream(u: UpstreamConfig, overrides: RuntimeOverrides, clock: Clock): DirectUpstream {
  const arn = u.apiKeySecretArn;
  if (arn && !overrides.secretKey)
    throw new ConfigError(`upstream ${u.name}: its key is a secret ARN, which only AWS reads.`);
  const options = {
    baseUrl: u.baseUrl,
    keyHeader: u.keyHeader,
    apiKey: arn ? overrides.secretKey!(arn) : async () => u.apiKey,
    idleMs: u.idleSeconds * 1000,
    clock,
  };
  return u.api === "chat_completions" ? new ChatCompletionsUpstream(options) : new ResponsesDirectUpstream(options);
}
