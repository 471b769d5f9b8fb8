import { loadConfig, type RelayConfig } from "#shared/config.ts";
import { jsonLog } from "#shared/log.ts";
import { EmfMetrics, noMetrics } from "#shared/metrics.ts";
import type { Deps } from "#shared/ports.ts";
import { createDeps } from "#shared/runtime.ts";
import { SecretSource } from "#shared/secrets/secret-source.ts";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { lambdaDeliveryDispatch, lambdaWorkerDispatch } from "#shared/upstream/worker-dispatch.ts";
import { instrument } from "./tracing.ts";

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
export function bootstrap(options: { worker?: boolean } = {}): Runtime {
  const config = loadConfig();
  // Configured upstreams' keys are secrets too, read the same way (by ARN, with a max age).
  const upstreamArns = Object.fromEntries(
    config.upstreams.upstreams
      .filter((u) => u.apiKeySecretArn)
      .map((u) => [`upstream-key:${u.name}` as const, u.apiKeySecretArn!]),
  );
  const metrics = config.metricsNamespace ? new EmfMetrics(config.metricsNamespace, config.stage) : noMetrics;
  const secrets = new SecretSource({
    arns: {
      "openai-api-key": config.openai.apiKeySecretArn,
      "openai-webhook-secret": config.openaiWebhookSecretArn,
      ...upstreamArns,
    },
    fallback: { "openai-api-key": config.openai.apiKey, "openai-webhook-secret": config.openaiWebhookSecret },
    region: config.region,
    instrument,
    log: jsonLog,
    metrics,
  });
  const byArn = new Map(Object.entries(upstreamArns).map(([name, arn]) => [arn, name as `upstream-key:${string}`]));
  const workerFunction = process.env.RELAY_WORKER_FUNCTION?.trim();
  const deliveryFunction = process.env.RELAY_DELIVERY_FUNCTION?.trim();
  const lambda = workerFunction || deliveryFunction ? instrument(new LambdaClient({ region: config.region })) : null;
  const deps = createDeps(config, {
    metrics,
    instrument,
    openaiApiKeySource: () => secrets.get("openai-api-key"),
    openaiWebhookSecretSource: () => secrets.get("openai-webhook-secret"),
    secretKey: (arn) => () => secrets.get(byArn.get(arn)!),
    // Jobs of upstreams without background mode run in the worker function; the worker itself
    // starts none (the poller does, when it finds a job no worker holds).
    dispatchWorker: options.worker
      ? async () => undefined
      : lambda && workerFunction
        ? lambdaWorkerDispatch(lambda, workerFunction)
        : undefined,
    // The poller function itself has none: it sends the webhooks of the ends it sees in its lane.
    dispatchDelivery: lambda && deliveryFunction ? lambdaDeliveryDispatch(lambda, deliveryFunction) : undefined,
  });
  return { config, secrets, deps };
}
