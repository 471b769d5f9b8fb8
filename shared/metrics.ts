/**
 * Custom metrics the alarms watch. In AWS they are CloudWatch Embedded Metric Format lines on
 * stdout (no API call, no extra latency); elsewhere they go nowhere.
 */
export interface Metrics {
  emit(name: string, value: number, unit: "Count" | "Seconds"): void;
}

export const noMetrics: Metrics = { emit() {} };

export class EmfMetrics implements Metrics {
  constructor(
    private readonly namespace: string,
    private readonly stage: string,
    private readonly write: (line: string) => void = (line) => console.log(line),
    private readonly now: () => number = Date.now,
  ) {}

  emit(name: string, value: number, unit: "Count" | "Seconds"): void {
    this.write(
      JSON.stringify({
        _aws: {
          Timestamp: this.now(),
          CloudWatchMetrics: [
            { Namespace: this.namespace, Dimensions: [["Stage"]], Metrics: [{ Name: name, Unit: unit }] },
          ],
        },
        Stage: this.stage,
        [name]: value,
      }),
    );
  }
}

export const METRIC_OLDEST_DUE_AGE = "OldestPendingJobAgeSeconds";
export const METRIC_WEBHOOKS_EXHAUSTED = "WebhookDeliveriesExhausted";
