import { loadConfig, type RelayConfig } from "#shared/config.ts";
import { jsonLog } from "#shared/log.ts";
import { EmfMetrics, noMetrics } from "#shared/metrics.ts";
import type { Deps } from "#shared/ports.ts";
import { createDeps } from "#shared/runtime.ts";
import { SecretSource } from "#shared/secrets/secret-source.ts";

export interface Runtime {
  config: Readonly<RelayConfig>;
  secrets: SecretSource;
  deps: Deps;
}

/**
 * Cold start for every function: config validated (a missing required value fails here, naming
 * it), clients built once. Secrets are not required to start: the OpenAI key is read before each
 * upstream call and the webhook secret before each request, both through a cache with a max age,
 * so a function deployed before the operator filled them in (or with a malformed one) serves
 * what it can and logs what is missing, and picks up the value within minutes once it is there.
 */
export function bootstrap(): Runtime {
  const config = loadConfig();
  const metrics = config.metricsNamespace ? new EmfMetrics(config.metricsNamespace, config.stage) : noMetrics;
  const secrets = new SecretSource({
    arns: {
      "openai-api-key": config.openai.apiKeySecretArn,
      "openai-webhook-secret": config.openaiWebhookSecretArn,
    },
    fallback: { "openai-api-key": config.openai.apiKey, "openai-webhook-secret": config.openaiWebhookSecret },
    region: config.region,
    log: jsonLog,
    metrics,
  });
  const deps = createDeps(config, {
    metrics,
    openaiApiKeySource: () => secrets.get("openai-api-key"),
    openaiWebhookSecretSource: () => secrets.get("openai-webhook-secret"),
  });
  return { config, secrets, deps };
}
