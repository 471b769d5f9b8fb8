import { afterAll, describe, expect, it } from "vitest";
import { EmfMetrics, METRIC, METRICS_SERVICE } from "#shared/metrics.ts";
import { Poller } from "#shared/poller/poller.ts";
import { OLDEST_DUE_AGE_ALARM_SECONDS } from "#cdk/relay-settings.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { captureStdout, extractAll, extractEmf } from "./cloudwatch-emf.ts";

let relay: RelayHarness | undefined;
afterAll(async () => relay?.close());

describe("EMF as CloudWatch extracts it", () => {
  it("a metric is a raw JSON line on stdout with the service and Stage dimensions", async () => {
    const out = await captureStdout(async () =>
      new EmfMetrics("ResponsesRelay", "prod").emit(METRIC.webhooksExhausted, 1, "Count"),
    );
    expect(extractAll(out)).toEqual([
      {
        namespace: "ResponsesRelay",
        name: "WebhookDeliveriesExhausted",
        unit: "Count",
        values: [1],
        dimensions: { service: METRICS_SERVICE, Stage: "prod" },
      },
    ]);
  });

  it("the same document logged through console.log under the JSON log format yields nothing", () => {
    const emf = JSON.stringify({
      _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: "N", Dimensions: [[]], Metrics: [{ Name: "M" }] }] },
      M: 1,
    });
    // What Lambda's runtime writes for console.log(emf) when LoggingConfig.LogFormat is JSON.
    const wrapped = JSON.stringify({ timestamp: "2026-01-01T00:00:00Z", level: "INFO", requestId: "r", message: emf });
    expect(extractEmf(emf)).toHaveLength(1);
    expect(extractEmf(wrapped)).toEqual([]);
  });
});

describe("poller lag, read from the due index", () => {
  it("a job nobody polled for an hour reports ~3600 s, over the alarm threshold", async () => {
    relay = await startRelay({ behaviour: { queuedMs: 500, runMs: 3 * 3_600_000 } });
    const h = relay;
    const submit = await h.call("POST", "/v1/responses", {
      model: "gpt-5-pro",
      input: "deep research",
      background: true,
    });
    expect(submit.status).toBeLessThan(300);
    h.clock.advance(3_600_000); // no poller ran for an hour
    const fresh = new Poller({ ...h.deps, metrics: new EmfMetrics("ResponsesRelay", "prod") }, { tickMs: 1000 });
    const out = await captureStdout(() => fresh.tick());
    await fresh.releaseAll();
    const lag = extractAll(out).filter((m) => m.name === METRIC.oldestDueAge);
    expect(lag).toHaveLength(1);
    expect(lag[0]!.dimensions).toEqual({ service: METRICS_SERVICE, Stage: "prod" });
    expect(lag[0]!.unit).toBe("Seconds");
    expect(lag[0]!.values[0]).toBeGreaterThanOrEqual(3590);
    expect(lag[0]!.values[0]).toBeLessThanOrEqual(3620);
    expect(lag[0]!.values[0]).toBeGreaterThan(OLDEST_DUE_AGE_ALARM_SECONDS);
  });
});
