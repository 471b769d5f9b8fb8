import { Duration } from "aws-cdk-lib";
import type { HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IMetric } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";
import type { RelayFunction } from "./relay-function.ts";

/**
 * The custom metrics the relay emits (EMF from the poller), and the alarms read. One dimension,
 * `Stage`, so a dev and a prod stack in one account never trip each other's alarms. The functions
 * get the namespace and stage as RELAY_METRICS_NAMESPACE / RELAY_STAGE.
 */
export const RELAY_METRICS = {
  namespace: "ResponsesRelay",
  stageDimension: "Stage",
  /** Seconds the oldest due job has been waiting for the poller (poller lag), per tick. */
  oldestPendingJobAge: "OldestPendingJobAgeSeconds",
  /** Webhook deliveries that used up the whole retry schedule without a 2xx. */
  webhookDeliveriesExhausted: "WebhookDeliveriesExhausted",
} as const;

export interface RelayAlarmsProps {
  stage: string;
  /** Subscribed to the alarm topic when given. */
  alarmEmail?: string;
  /** Poller lag that pages someone; the poll interval is capped at 20 s, so minutes mean stuck. */
  oldestPendingJobAgeThreshold?: Duration;
}

/** The stack's alarms, all notifying one SNS topic. */
export class RelayAlarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  readonly #stage: string;
  readonly #action: SnsAction;

  constructor(scope: Construct, id: string, props: RelayAlarmsProps) {
    super(scope, id);
    this.#stage = props.stage;
    this.topic = new Topic(this, "Topic", { displayName: `responses-relay ${props.stage} alarms`, enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    this.#action = new SnsAction(this.topic);

    this.#alarm("OldestPendingJobAge", {
      metric: this.relayMetric(RELAY_METRICS.oldestPendingJobAge, "Maximum", Duration.minutes(1)),
      threshold: (props.oldestPendingJobAgeThreshold ?? Duration.minutes(3)).toSeconds(),
      evaluationPeriods: 3,
      description:
        "Due jobs are waiting for the poller far longer than their poll interval: the poller is failing, throttled or behind.",
      // No datapoints means no poller ticks; PollerNotRunning covers that case.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.#alarm("WebhookDeliveriesExhausted", {
      metric: this.relayMetric(RELAY_METRICS.webhookDeliveriesExhausted, "Sum", Duration.minutes(5)),
      threshold: 1,
      evaluationPeriods: 1,
      description:
        "A caller's webhook failed through the whole retry schedule; the job's final webhook was never acknowledged.",
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  relayMetric(metricName: string, statistic: string, period: Duration): Metric {
    return new Metric({
      namespace: RELAY_METRICS.namespace,
      metricName,
      dimensionsMap: { [RELAY_METRICS.stageDimension]: this.#stage },
      statistic,
      period,
    });
  }

  /** Errors (crashes, timeouts, failed cold starts) and throttles of one function. */
  watchFunction(id: string, relayFunction: RelayFunction): this {
    const period = Duration.minutes(5);
    this.#alarm(`${id}Errors`, {
      metric: relayFunction.fn.metricErrors({ period, statistic: "Sum" }),
      threshold: 1,
      evaluationPeriods: 1,
      description: `${id}: invocations failed (uncaught error, timeout or a cold start that threw).`,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.#alarm(`${id}Throttles`, {
      metric: relayFunction.fn.metricThrottles({ period, statistic: "Sum" }),
      threshold: 1,
      evaluationPeriods: 1,
      description: `${id}: invocations were throttled (reserved or account concurrency exhausted).`,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    return this;
  }

  /** A scheduled function that stopped being invoked (rule disabled, deleted, or EventBridge trouble). */
  watchHeartbeat(id: string, relayFunction: RelayFunction): this {
    this.#alarm(`${id}NotRunning`, {
      metric: relayFunction.fn.metricInvocations({ period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      description: `${id}: no invocation in 5 minutes although it is scheduled every minute; no job is advancing.`,
      treatMissingData: TreatMissingData.BREACHING,
    });
    return this;
  }

  /**
   * 5xx answers of the HTTP API. The Hono app turns thrown errors into 500 responses, so these never
   * show up as Lambda errors.
   */
  watchHttpApi(id: string, api: HttpApi): this {
    this.#alarm(`${id}ServerErrors`, {
      metric: api.metricServerError({ period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 5,
      evaluationPeriods: 1,
      description: `${id}: the API answered 5xx (relay faults or integration failures).`,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    return this;
  }

  #alarm(
    id: string,
    options: {
      metric: IMetric;
      threshold: number;
      evaluationPeriods: number;
      description: string;
      treatMissingData: TreatMissingData;
      comparisonOperator?: ComparisonOperator;
    },
  ): Alarm {
    const alarm = new Alarm(this, id, {
      metric: options.metric,
      threshold: options.threshold,
      evaluationPeriods: options.evaluationPeriods,
      comparisonOperator: options.comparisonOperator ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: options.treatMissingData,
      alarmDescription: options.description,
    });
    alarm.addAlarmAction(this.#action);
    alarm.addOkAction(this.#action);
    this.alarms.push(alarm);
    return alarm;
  }
}
