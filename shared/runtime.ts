import { systemClock, type Clock } from "./clock.ts";
import type { RelayConfig } from "./config.ts";
import { ConfigError } from "./errors.ts";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { EventBridgePublisher, LoggingEventPublisher } from "#shared/events/eventbridge-publisher.ts";
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
import { RotatingUpstream } from "#shared/secrets/rotating-upstream.ts";

export interface RuntimeOverrides {
  upstream?: Upstream;
  /** The upstream key when it does not come from config (Secrets Manager in AWS, the simulator locally). */
  openaiApiKey?: string;
  /** Read before each upstream call (cached with a max age): a rotated key takes effect warm. */
  openaiApiKeySource?: () => Promise<string | undefined>;
  clock?: Clock;
  meter?: CapacityMeter;
  events?: EventPublisher;
  webhooks?: WebhookSender;
  /** DNS for webhook hosts (tests inject one; no network needed). */
  resolve?: Resolver;
  log?: Log;
  metrics?: Metrics;
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
  });
  const tableName = config.tableName;
  const apiKey = overrides.openaiApiKey ?? config.openai.apiKey;
  let upstream = overrides.upstream;
  const { baseUrl, keyHeader } = config.openai;
  if (!upstream && overrides.openaiApiKeySource) {
    upstream = new RotatingUpstream(
      overrides.openaiApiKeySource,
      (key) => new OpenAIUpstream({ apiKey: key, baseUrl, keyHeader }),
    );
  }
  if (!upstream) {
    if (!apiKey)
      throw new ConfigError("No upstream key: set OPENAI_API_KEY (locally) or OPENAI_API_KEY_SECRET_ARN (in AWS).");
    upstream = new OpenAIUpstream({ apiKey, baseUrl: config.openai.baseUrl, keyHeader: config.openai.keyHeader });
  }
  const log = overrides.log ?? jsonLog;
  const events =
    overrides.events ??
    (config.eventBusName
      ? new EventBridgePublisher({
          client: new EventBridgeClient({ region: config.region }),
          busName: config.eventBusName,
          log,
        })
      : new LoggingEventPublisher(log));
  const clock = overrides.clock ?? systemClock;
  const metrics =
    overrides.metrics ?? (config.metricsNamespace ? new EmfMetrics(config.metricsNamespace, config.stage) : noMetrics);
  return {
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
    },
  };
}
