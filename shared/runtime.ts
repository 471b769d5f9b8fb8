import { systemClock, type Clock } from "./clock.ts";
import type { RelayConfig } from "./config.ts";
import { ConfigError } from "./errors.ts";
import type { Deps, Upstream } from "./ports.ts";
import { createDynamoClients, type CapacityMeter } from "./store/dynamo-client.ts";
import { DynamoJobStore } from "./store/dynamo-job-store.ts";
import { DynamoLeaseStore } from "./store/dynamo-lease-store.ts";
import { DynamoTenantStore } from "./store/dynamo-tenant-store.ts";
import { OpenAIUpstream } from "./upstream/openai-upstream.ts";

export interface RuntimeOverrides {
  upstream?: Upstream;
  /** The upstream key when it does not come from config (Secrets Manager in AWS, the simulator locally). */
  openaiApiKey?: string;
  clock?: Clock;
  meter?: CapacityMeter;
}

/**
 * The composition root: builds every adapter once from validated config. Lambda entry points call
 * it at cold start; the local stack and the tests call it with local endpoints.
 */
export function createDeps(config: RelayConfig, overrides: RuntimeOverrides = {}): Deps {
  const { doc } = createDynamoClients({ endpoint: config.dynamoEndpoint, region: config.region, meter: overrides.meter });
  const tableName = config.tableName;
  const apiKey = overrides.openaiApiKey ?? config.openai.apiKey;
  let upstream = overrides.upstream;
  if (!upstream) {
    if (!apiKey) throw new ConfigError("No upstream key: set OPENAI_API_KEY (locally) or OPENAI_API_KEY_SECRET_ARN (in AWS).");
    upstream = new OpenAIUpstream({ apiKey, baseUrl: config.openai.baseUrl, keyHeader: config.openai.keyHeader });
  }
  return {
    jobs: new DynamoJobStore({ doc, tableName, shards: config.dueShards, retentionDays: config.retentionDays }),
    tenants: new DynamoTenantStore({ doc, tableName }),
    leases: new DynamoLeaseStore({ doc, tableName }),
    upstream,
    clock: overrides.clock ?? systemClock,
    settings: {
      publicBaseUrl: config.publicBaseUrl ?? "",
      retentionDays: config.retentionDays,
      idempotencyTtlSeconds: config.idempotencyTtlSeconds,
      createGraceMs: config.createGraceMs,
      allowPrivateWebhooks: config.allowPrivateWebhooks,
    },
  };
}
