import { Aws, Duration } from "aws-cdk-lib";
import type { HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  Metric,
  TreatMissingData,
  type IMetric,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Topic } from "aws-cdk-lib/aws-sns";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";
import { METRIC, METRICS_SERVICE } from "#shared/metrics.ts";
import { OLDEST_DUE_AGE_ALARM_SECONDS } from "#cdk/relay-settings.ts";
import type { RelayFunction } from "./relay-function.ts";

/**
 * The custom metrics the relay emits (EMF through Powertools Metrics, shared/metrics.ts), and the
 * alarms read. Dimensions `service` (Powertools always adds it) and `Stage`, so a dev and a prod
 * stack in one account never trip each other's alarms. The functions get the namespace, service
 * and stage as RELAY_METRICS_NAMESPACE / POWERTOOLS_SERVICE_NAME / RELAY_STAGE.
 */
export const RELAY_METRICS = {
  namespace: "ResponsesRelay",
  stageDimension: "Stage",
  serviceDimension: "service",
  service: METRICS_SERVICE,
  oldestPendingJobAge: METRIC.oldestDueAge,
  webhookDeliveriesExhausted: METRIC.webhooksExhausted,
  webhookBacklog: METRIC.webhookBacklog,
  upstreamCalls: METRIC.upstreamCalls,
  upstreamErrors: METRIC.upstreamErrors,
  ambiguousCreates: METRIC.ambiguousCreates,
  secretInvalid: METRIC.secretInvalid,
} as const;

/** Thresholds, in one place for the alarms, the dashboard and the README. */
export const ALARM_THRESHOLDS = {
  oldestDueAgeSeconds: OLDEST_DUE_AGE_ALARM_SECONDS,
  /** Share of upstream calls failing over 10 minutes (with at least 20 calls, so one blip is not a page). */
  upstreamErrorRate: 0.25,
  upstreamMinCalls: 20,
  /** Unconfirmed creates in 15 minutes: each is a job to reconcile, several mean the upstream is flaky. */
  ambiguousCreates: 3,
  /** Final webhooks waiting at once, for 15 minutes: receivers are failing broadly. */
  webhookBacklog: 100,
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
    // enforceSSL gives the topic a policy whose only statement is a Deny, replacing SNS's default
    // owner-account policy: CloudWatch needs its own Allow, limited to this account's alarms.
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: "AllowCloudWatchAlarmsToPublish",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID },
          ArnLike: { "aws:SourceArn": `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` },
        },
      }),
    );
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    this.#action = new SnsAction(this.topic);

    this.#alarm("OldestPendingJobAge", {
      metric: this.relayMetric(RELAY_METRICS.oldestPendingJobAge, "Maximum", Duration.minutes(1)),
      threshold: props.oldestPendingJobAgeThreshold?.toSeconds() ?? ALARM_THRESHOLDS.oldestDueAgeSeconds,
      // Two minutes running: one tick's outlier (a job just handed over after a crash) also shows.
      evaluationPeriods: 2,
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
    this.#alarm("UpstreamErrorRate", {
      metric: new MathExpression({
        // No rate until there are enough calls to mean something.
        expression: `IF(calls >= ${ALARM_THRESHOLDS.upstreamMinCalls}, errors / calls, 0)`,
        usingMetrics: {
          calls: this.relayMetric(RELAY_METRICS.upstreamCalls, "Sum", Duration.minutes(10)),
          errors: this.relayMetric(RELAY_METRICS.upstreamErrors, "Sum", Duration.minutes(10)),
        },
        period: Duration.minutes(10),
        label: "Upstream error rate",
      }),
      threshold: ALARM_THRESHOLDS.upstreamErrorRate,
      evaluationPeriods: 1,
      description:
        "A quarter or more of the upstream calls failed over 10 minutes: the upstream is down, throttling, or refusing the relay's key.",
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.#alarm("AmbiguousCreates", {
      metric: this.relayMetric(RELAY_METRICS.ambiguousCreates, "Sum", Duration.minutes(15)),
      threshold: ALARM_THRESHOLDS.ambiguousCreates,
      evaluationPeriods: 1,
      description:
        "Creates whose outcome is unknown (timeouts, resets after sending): each is reconciled, but several mean upstream trouble.",
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.#alarm("WebhookBacklog", {
      metric: this.relayMetric(RELAY_METRICS.webhookBacklog, "Maximum", Duration.minutes(5)),
      threshold: ALARM_THRESHOLDS.webhookBacklog,
      evaluationPeriods: 3,
      description: "Many final webhooks are waiting to be acknowledged for 15 minutes: callers' receivers are failing.",
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.#alarm("SecretInvalid", {
      metric: this.relayMetric(RELAY_METRICS.secretInvalid, "Sum", Duration.minutes(5)),
      threshold: 1,
      evaluationPeriods: 1,
      description:
        "An operator secret is missing or malformed (the log line names it and why): its feature is off until it is fixed.",
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  relayMetric(metricName: string, statistic: string, period: Duration): Metric {
    return new Metric({
      namespace: RELAY_METRICS.namespace,
      metricName,
      dimensionsMap: {
        [RELAY_METRICS.serviceDimension]: RELAY_METRICS.service,
        [RELAY_METRICS.stageDimension]: this.#stage,
      },
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

  /**
   * The lifecycle-event outbox falling behind or giving up: batches in the on-failure queue (events
   * that were never published: replay them from it), or stream records waiting longer than 5 minutes.
   */
  watchOutbox(id: string, relayFunction: RelayFunction, onFailure: IQueue): this {
    this.#alarm(`${id}DeadLetters`, {
      metric: onFailure.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" }),
      threshold: 1,
      evaluationPeriods: 1,
      description: `${id}: lifecycle events were not published after every retry; their stream positions are in the on-failure queue.`,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.#alarm(`${id}IteratorAge`, {
      metric: relayFunction.fn.metric("IteratorAge", { period: Duration.minutes(5), statistic: "Maximum" }),
      threshold: 5 * 60_000,
      evaluationPeriods: 1,
      description: `${id}: lifecycle events are more than 5 minutes behind the table (records drop after 24 h).`,
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
