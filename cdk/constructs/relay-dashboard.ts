import { Duration } from "aws-cdk-lib";
import type { HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  type HorizontalAnnotation,
  MathExpression,
} from "aws-cdk-lib/aws-cloudwatch";
import { Construct } from "constructs";
import { ALARM_THRESHOLDS, RELAY_METRICS, type RelayAlarms } from "./relay-alarms.ts";
import type { RelayFunction } from "./relay-function.ts";

export interface RelayDashboardProps {
  stage: string;
  alarms: RelayAlarms;
  httpApi: HttpApi;
  functions: Record<string, RelayFunction>;
}

/**
 * One CloudWatch dashboard: the alarms' state first, then what they watch (poller lag, upstream
 * error rate, webhooks, secrets) and the functions' and API's own metrics beside them.
 */
export class RelayDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: RelayDashboardProps) {
    super(scope, id);
    const { alarms } = props;
    const minute = Duration.minutes(1);
    const threshold = (value: number, label: string): HorizontalAnnotation => ({ value, label });
    this.dashboard = new Dashboard(this, "Dashboard", {
      dashboardName: `responses-relay-${props.stage}`,
      defaultInterval: Duration.hours(6),
    });
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: "Alarms", alarms: alarms.alarms, width: 24, height: 4 }));
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Poller lag: oldest overdue pending job (s)",
        left: [alarms.relayMetric(RELAY_METRICS.oldestPendingJobAge, "Maximum", minute)],
        leftAnnotations: [threshold(ALARM_THRESHOLDS.oldestDueAgeSeconds, "alarm")],
        width: 8,
      }),
      new GraphWidget({
        title: "Upstream calls and errors",
        left: [
          alarms.relayMetric(RELAY_METRICS.upstreamCalls, "Sum", Duration.minutes(5)),
          alarms.relayMetric(RELAY_METRICS.upstreamErrors, "Sum", Duration.minutes(5)),
          alarms.relayMetric(RELAY_METRICS.ambiguousCreates, "Sum", Duration.minutes(5)),
        ],
        right: [
          new MathExpression({
            expression: "IF(calls > 0, errors / calls, 0)",
            usingMetrics: {
              calls: alarms.relayMetric(RELAY_METRICS.upstreamCalls, "Sum", Duration.minutes(5)),
              errors: alarms.relayMetric(RELAY_METRICS.upstreamErrors, "Sum", Duration.minutes(5)),
            },
            label: "error rate",
            period: Duration.minutes(5),
          }),
        ],
        rightAnnotations: [threshold(ALARM_THRESHOLDS.upstreamErrorRate, "alarm")],
        width: 8,
      }),
      new GraphWidget({
        title: "Webhooks and secrets",
        left: [
          alarms.relayMetric(RELAY_METRICS.webhookBacklog, "Maximum", Duration.minutes(5)),
          alarms.relayMetric(RELAY_METRICS.webhookDeliveriesExhausted, "Sum", Duration.minutes(5)),
          alarms.relayMetric(RELAY_METRICS.secretInvalid, "Sum", Duration.minutes(5)),
        ],
        width: 8,
      }),
    );
    const fns = Object.entries(props.functions);
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Lambda errors and throttles",
        left: fns.flatMap(([name, f]) => [
          f.fn.metricErrors({ label: `${name} errors`, statistic: "Sum" }),
          f.fn.metricThrottles({ label: `${name} throttles`, statistic: "Sum" }),
        ]),
        width: 8,
      }),
      new GraphWidget({
        title: "Lambda duration p99 (ms)",
        left: fns.map(([name, f]) => f.fn.metricDuration({ label: name, statistic: "p99" })),
        width: 8,
      }),
      new GraphWidget({
        title: "HTTP API requests and 5xx",
        left: [props.httpApi.metricCount({ statistic: "Sum" })],
        right: [
          props.httpApi.metricServerError({ statistic: "Sum" }),
          props.httpApi.metricClientError({ statistic: "Sum" }),
        ],
        width: 8,
      }),
    );
  }
}
