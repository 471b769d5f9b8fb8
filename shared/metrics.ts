import { Metrics as PowertoolsMetrics } from "@aws-lambda-powertools/metrics";
import { UpstreamUnavailableError } from "./errors.ts";
import type { Upstream } from "./ports.ts";

/**
 * Custom metrics the alarms and the dashboard read. In AWS they are CloudWatch Embedded Metric
 * Format lines written by Powertools Metrics; elsewhere they go nowhere.
 */
export interface Metrics {
  emit(name: MetricName, value: number, unit: "Count" | "Seconds"): void;
}

export const noMetrics: Metrics = { emit() {} };

/**
 * The metric names, one list for the code that emits and the stack that alarms (cdk imports it).
 * Dimensions: `service` (Powertools always adds it) and `Stage`.
 */
export const METRIC = {
  /** Seconds the oldest overdue pending job has waited past its due time (see shared/poller). */
  oldestDueAge: "OldestPendingJobAgeSeconds",
  /** Webhook deliveries that used up the whole retry schedule without a 2xx. */
  webhooksExhausted: "WebhookDeliveriesExhausted",
  /** Final webhooks still waiting to be acknowledged, among the jobs the poller holds. */
  webhookBacklog: "WebhookBacklog",
  /** Calls to the upstream (create, retrieve, cancel, stream opens). */
  upstreamCalls: "UpstreamCalls",
  /** Upstream calls that failed (any error); the dashboard and the alarm divide by UpstreamCalls. */
  upstreamErrors: "UpstreamErrors",
  /** Creates whose outcome is unknown (timeout, reset after sending): jobs to reconcile. */
  ambiguousCreates: "AmbiguousCreates",
  /** A secret that is missing or malformed at the time it was read (its feature is off). */
  secretInvalid: "SecretInvalid",
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** Kept for the callers that import the old names. */
export const METRIC_WEBHOOKS_EXHAUSTED = METRIC.webhooksExhausted;

/** The `service` dimension every relay metric carries (POWERTOOLS_SERVICE_NAME in the stack). */
export const METRICS_SERVICE = "responses-relay";

/**
 * EMF through Powertools Metrics. Powertools writes each document to `process.stdout` itself, not
 * through `console.log`: under Lambda's JSON log format the runtime wraps console output as a
 * string inside `"message"`, and CloudWatch extracts no metric from that. Each emit is published
 * at once (one line): the relay emits a few per poller tick, and a crash loses nothing buffered.
 */
export class EmfMetrics implements Metrics {
  readonly #metrics: PowertoolsMetrics;

  constructor(namespace: string, stage: string) {
    this.#metrics = new PowertoolsMetrics({
      namespace,
      serviceName: METRICS_SERVICE,
      defaultDimensions: { Stage: stage },
    });
  }

  emit(name: MetricName, value: number, unit: "Count" | "Seconds"): void {
    this.#metrics.addMetric(name, unit, value);
    this.#metrics.publishStoredMetrics();
  }
}

/**
 * Counts upstream calls, failures and ambiguous creates around any Upstream, so the error rate is
 * measured where every call passes, not in each use case.
 */
export function meteredUpstream(upstream: Upstream, metrics: Metrics): Upstream {
  const count = async <T>(call: () => Promise<T>, isCreate = false): Promise<T> => {
    metrics.emit(METRIC.upstreamCalls, 1, "Count");
    try {
      return await call();
    } catch (error) {
      metrics.emit(METRIC.upstreamErrors, 1, "Count");
      if (isCreate && error instanceof UpstreamUnavailableError && error.ambiguous)
        metrics.emit(METRIC.ambiguousCreates, 1, "Count");
      throw error;
    }
  };
  return {
    create: (body: Record<string, unknown>, context?: Parameters<Upstream["create"]>[1]) =>
      count(() => upstream.create(body, context), true),
    retrieve: (id: string, options?: Parameters<Upstream["retrieve"]>[1]) =>
      count(() => upstream.retrieve(id, options)),
    cancel: (id: string) => count(() => upstream.cancel(id)),
    stream: (id: string, options?: Parameters<Upstream["stream"]>[1]) => count(() => upstream.stream(id, options)),
    canWatch: (id: string) => upstream.canWatch(id),
    delete: (id: string) => count(() => upstream.delete(id)),
    listInputItems: (id: string, query: Parameters<Upstream["listInputItems"]>[1]) =>
      count(() => upstream.listInputItems(id, query)),
    countInputTokens: (body: Record<string, unknown>) => count(() => upstream.countInputTokens(body)),
  };
}
