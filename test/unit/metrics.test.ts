import { describe, expect, it } from "vitest";
import { EmfMetrics } from "#shared/metrics.ts";

describe("EMF metrics", () => {
  it("writes one CloudWatch Embedded Metric Format line with the Stage dimension", () => {
    const lines: string[] = [];
    new EmfMetrics(
      "ResponsesRelay",
      "prod",
      (l) => lines.push(l),
      () => 1_700_000_000_000,
    ).emit("WebhookDeliveriesExhausted", 1, "Count");
    expect(JSON.parse(lines[0]!)).toEqual({
      _aws: {
        Timestamp: 1_700_000_000_000,
        CloudWatchMetrics: [
          {
            Namespace: "ResponsesRelay",
            Dimensions: [["Stage"]],
            Metrics: [{ Name: "WebhookDeliveriesExhausted", Unit: "Count" }],
          },
        ],
      },
      Stage: "prod",
      WebhookDeliveriesExhausted: 1,
    });
  });
});
