import { CfnOutput, type CfnResource, Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import {
  HttpApi,
  HttpRoute,
  HttpRouteKey,
  HttpStage,
  LogGroupLogDestination,
  PayloadFormatVersion,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import { EventBus, Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { NagSuppressions } from "cdk-nag";
import type { Construct } from "constructs";
import { LifecycleOutbox } from "#cdk/constructs/lifecycle-outbox.ts";
import { OperatorSecret } from "#cdk/constructs/operator-secret.ts";
import { RELAY_METRICS, RelayAlarms } from "#cdk/constructs/relay-alarms.ts";
import { RelayDashboard } from "#cdk/constructs/relay-dashboard.ts";
import { RelayFunction, type RelayFunctionProps } from "#cdk/constructs/relay-function.ts";
import { RelayTable } from "#cdk/constructs/relay-table.ts";
import { functionUrlsAvailable } from "#cdk/function-url-regions.ts";
import { POLLER_TIMEOUT_S } from "#shared/poller/window.ts";
import { API_THROTTLE, DUE_SHARDS, POLL_TICK_MS } from "./relay-settings.ts";
import { FunctionUrlAuthType, HttpMethod, InvokeMode } from "aws-cdk-lib/aws-lambda";

export type Stage = "dev" | "prod";

export interface RelayStackProps extends StackProps {
  stage: Stage;
  /** Keep the data when the stack goes: table deletion protection + RETAIN, secrets and logs RETAIN. */
  retain: boolean;
  /** Subscribed to the alarm topic. */
  alarmEmail?: string;
  /** The upstream (e.g. an Azure OpenAI `…/openai/v1` base). */
  openaiBaseUrl?: string;
  /** The public URL callers use (a custom domain); default: the API's execute-api URL. */
  publicUrl?: string;
  /**
   * Reserve this much concurrency for the poller (opt-in). Unset by default: Lambda refuses a
   * reservation that would leave the account's unreserved pool under 100, which fails the first
   * deploy in new accounts (default quota 10). Overlap safety comes from the shard leases.
   */
  pollerReservedConcurrency?: number;
  /**
   * Browser origins allowed to call the stream function URL (CORS). Unset: no CORS headers at all,
   * so browsers cannot read replies cross-origin; the relay's clients are servers holding a key.
   */
  streamCorsOrigins?: string[];
  /**
   * The upstreams document (RELAY_UPSTREAMS, README "Several upstreams"), already validated by the
   * app; with an upstream without background mode the stack adds the worker function.
   */
  upstreams?: { json: string; secretArns: string[]; emulated: boolean };
}

/**
 * How long an emulated job may run in AWS: the worker function's 15-minute limit less a margin for
 * its start and its clean stop; enforced as the job's deadline (shared/domain/models.ts).
 */
export const WORKER_MAX_SECONDS = 840;

/**
 * The whole relay in one stack: table, bus, secrets, the HTTP API function behind API Gateway, the
 * poller on a one-minute schedule, alarms. Environment-agnostic: nothing is looked up in an
 * account at synth time.
 */
export class RelayStack extends Stack {
  readonly table: RelayTable;
  readonly bus: EventBus;
  readonly httpApiFunction: RelayFunction;
  readonly pollerFunction: RelayFunction;
  readonly streamFunction: RelayFunction;
  readonly outboxFunction: RelayFunction;
  /** Runs jobs of upstreams without background mode; only when the upstreams document has one. */
  readonly workerFunction: RelayFunction | null = null;
  readonly httpApi: HttpApi;
  readonly alarms: RelayAlarms;
  readonly #removalPolicy: RemovalPolicy;
  readonly #commonEnv: Record<string, string>;

  constructor(scope: Construct, id: string, props: RelayStackProps) {
    super(scope, id, { terminationProtection: props.retain, ...props });
    this.#removalPolicy = props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.table = new RelayTable(this, "Table", { retain: props.retain });
    this.bus = new EventBus(this, "Bus", { description: `responses-relay ${props.stage}: job lifecycle events` });
    const openaiApiKey = new OperatorSecret(this, "OpenAiApiKey", {
      description: `responses-relay ${props.stage}: the OpenAI API key (plain string, sk-...). Fill in after deploy.`,
      removalPolicy: this.#removalPolicy,
    });
    const openaiWebhookSecret = new OperatorSecret(this, "OpenAiWebhookSecret", {
      description: `responses-relay ${props.stage}: OpenAI's webhook signing secret (whsec_...). Fill in after deploy.`,
      removalPolicy: this.#removalPolicy,
    });
    this.alarms = new RelayAlarms(this, "Alarms", { stage: props.stage, alarmEmail: props.alarmEmail });

    // API Gateway HTTP API rather than a function URL for the REST surface: stage throttling (a
    // function URL has none, and authentication happens in the app, after Lambda is billed),
    // access logs, custom domains, and a 5xx metric. Its fixed 30 s limit is fine: submit answers
    // 202 at once and the poller does the long work. Streaming (`?stream=true`) cannot go through
    // it; that is the stream function's RESPONSE_STREAM function URL (below).
    const accessLogs = new LogGroup(this, "HttpApiAccessLogs", {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: this.#removalPolicy,
    });
    this.httpApi = new HttpApi(this, "HttpApi", {
      description: `responses-relay ${props.stage}: REST API (submit, status, cancel, list)`,
      createDefaultStage: false,
    });
    const stage = new HttpStage(this, "HttpApiStage", {
      httpApi: this.httpApi,
      stageName: "$default",
      autoDeploy: true,
      throttle: { ...API_THROTTLE },
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs), format: accessLogFormat() },
    });
    const publicUrl = props.publicUrl ?? stage.url;

    this.#commonEnv = {
      OPENAI_BASE_URL: props.openaiBaseUrl ?? "https://api.openai.com/v1",
      RELAY_PUBLIC_URL: publicUrl,
      RELAY_ALLOW_PRIVATE_WEBHOOKS: "false",
      RELAY_DUE_SHARDS: String(DUE_SHARDS),
      RELAY_STAGE: props.stage,
      RELAY_METRICS_NAMESPACE: RELAY_METRICS.namespace,
      POWERTOOLS_SERVICE_NAME: RELAY_METRICS.service,
      ...(props.upstreams
        ? { RELAY_UPSTREAMS: props.upstreams.json, RELAY_WORKER_MAX_SECONDS: String(WORKER_MAX_SECONDS) }
        : {}),
    };
    if (props.upstreams?.emulated) {
      // The relay's own background mode: one asynchronous invocation per run of a job. No retries:
      // the poller starts another worker when it finds a job no worker holds (decision 0008).
      this.workerFunction = this.#relayFunction("WorkerFunction", {
        name: "worker",
        description: "responses-relay worker: holds an upstream request without background mode, up to 14 min",
        timeout: Duration.minutes(15),
        memorySize: 512,
      })
        .bindTable(this.table, "readWrite")
        .bindSecret(openaiApiKey, "OPENAI_API_KEY_SECRET_ARN");
      this.workerFunction.fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(5) });
      for (const arn of props.upstreams.secretArns) this.workerFunction.bindSecretArn(arn);
      this.alarms.watchFunction("WorkerFunction", this.workerFunction);
    }

    // 29 s: API Gateway stops waiting at 30 s, so time after that is billed with nobody listening.
    this.httpApiFunction = this.#relayFunction("HttpApiFunction", {
      name: "http-api",
      description: "responses-relay HTTP API: submit, status, cancel, list, OpenAI webhooks",
      timeout: Duration.seconds(29),
    })
      .bindTable(this.table, "readWrite")
      .bindSecret(openaiApiKey, "OPENAI_API_KEY_SECRET_ARN")
      .bindSecret(openaiWebhookSecret, "OPENAI_WEBHOOK_SECRET_ARN");
    this.#upstreamAccess(this.httpApiFunction, props);
    // One catch-all route: the Hono app routes, answers unknown paths in OpenAI's error shape, and
    // checks the bearer key itself.
    const route = new HttpRoute(this, "HttpApiDefaultRoute", {
      httpApi: this.httpApi,
      routeKey: HttpRouteKey.DEFAULT,
      integration: new HttpLambdaIntegration("HttpApiIntegration", this.httpApiFunction.fn, {
        payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
      }),
    });
    NagSuppressions.addResourceSuppressions(route, [
      {
        id: "AwsSolutions-APIG4",
        reason:
          "Authorization happens in the function, by contract: every /v1 request needs the relay's own bearer API key " +
          "(stored as a SHA-256 hash per tenant in DynamoDB, checked by shared/http/auth.ts); /health, /openapi.json and " +
          "/docs are public by design, and /v1/webhooks/openai is authenticated by OpenAI's Standard Webhooks signature. " +
          "An API Gateway authorizer would repeat the same key lookup on every request.",
      },
    ]);
    this.alarms.watchFunction("HttpApiFunction", this.httpApiFunction).watchHttpApi("HttpApi", this.httpApi);

    // The poller starts work for a full minute (shared/poller/window.ts), ticking every
    // RELAY_POLL_TICK_MS, so there is no pause before the next scheduled run; the timeout leaves a
    // job step started at the last moment (upstream and webhook timeouts) time to finish, plus the
    // lease hand-back. No reserved concurrency unless asked for (see pollerReservedConcurrency):
    // two invocations overlap only briefly at the boundary, and the shard leases keep them off
    // each other's jobs. 512 MB: it waits on I/O most of the minute and runs 1440 times a day.
    this.pollerFunction = this.#relayFunction("PollerFunction", {
      name: "poller",
      description: "responses-relay poller: advances due jobs, ticking every few seconds for a minute",
      timeout: Duration.seconds(POLLER_TIMEOUT_S),
      memorySize: 512,
      reservedConcurrentExecutions: props.pollerReservedConcurrency,
    })
      .bindTable(this.table, "readWrite")
      .bindSecret(openaiApiKey, "OPENAI_API_KEY_SECRET_ARN")
      // Read only to know whether OpenAI's webhooks can find a lost create (decision 0003).
      .bindSecret(openaiWebhookSecret, "OPENAI_WEBHOOK_SECRET_ARN")
      .setEnv("RELAY_POLL_TICK_MS", String(POLL_TICK_MS));
    this.#upstreamAccess(this.pollerFunction, props);
    // A failed or late minute is not retried: the next scheduled invocation is the retry, and a
    // retry would only overlap it.
    this.pollerFunction.fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
    new Rule(this, "PollerSchedule", {
      description: "Starts the responses-relay poller every minute (the invocation ticks every few seconds).",
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.pollerFunction.fn, { retryAttempts: 2, maxEventAge: Duration.minutes(1) })],
    });
    this.alarms
      .watchFunction("PollerFunction", this.pollerFunction)
      .watchHeartbeat("PollerFunction", this.pollerFunction);
    // A job that ends where the poller is not looking (OpenAI's webhook, a cancel, a stream) has
    // its caller's webhook sent at once by an asynchronous invocation of the poller function. The
    // worker sends its own before it returns (functions/worker.ts): the poller already invokes the
    // worker, and the reverse grant would make a dependency cycle.
    this.httpApiFunction.bindDeliverer(this.pollerFunction);

    // Lifecycle events come from the table's stream, not from the writers (a crash between a write
    // and its publish would lose one): only this function may put events on the bus.
    this.outboxFunction = this.#relayFunction("LifecycleOutboxFunction", {
      name: "lifecycle-outbox",
      description: "responses-relay outbox: publishes job lifecycle events from the table's stream",
      timeout: Duration.seconds(60),
      memorySize: 256,
    }).bindBus(this.bus);
    const outbox = new LifecycleOutbox(this, "LifecycleOutbox", {
      fn: this.outboxFunction,
      table: this.table,
      removalPolicy: this.#removalPolicy,
    });
    this.alarms
      .watchFunction("LifecycleOutboxFunction", this.outboxFunction)
      .watchOutbox("LifecycleOutbox", this.outboxFunction, outbox.deadLetters);

    new CfnOutput(this, "ApiUrl", {
      value: publicUrl,
      description: "Base URL of the relay API; clients use <ApiUrl>/v1",
    });
    new CfnOutput(this, "EventBusName", {
      value: this.bus.eventBusName,
      description: "Bus the relay publishes job lifecycle events to",
    });
    new CfnOutput(this, "TableName", { value: this.table.tableName });
    new CfnOutput(this, "OpenAiApiKeySecretArn", {
      value: openaiApiKey.secretArn,
      description: "Put the OpenAI API key here",
    });
    new CfnOutput(this, "OpenAiWebhookSecretArn", {
      value: openaiWebhookSecret.secretArn,
      description: "Put OpenAI's whsec_ webhook secret here",
    });
    new CfnOutput(this, "AlarmTopicArn", { value: this.alarms.topic.topicArn });

    // Live streams (and any reply too large for a buffered Lambda): the same Hono app through
    // Hono's streamHandle, behind a function URL in RESPONSE_STREAM mode (API Gateway HTTP APIs
    // cannot stream). Authentication is the app's bearer key, as on the HTTP API. It writes the
    // event log, stream leases and, for `stream: true` submits, jobs: read-write on the table.
    // 15 min is Lambda's ceiling; a stream ends cleanly a few seconds before it and the caller
    // resumes with Last-Event-ID. 1024 MB: a multi-MB output's closing events are held in memory.
    this.streamFunction = this.#relayFunction("StreamFunction", {
      name: "stream",
      description: "responses-relay streams: SSE for GET /v1/responses/{id}?stream=true and streaming submits",
      timeout: Duration.minutes(15),
      memorySize: 1024,
    })
      .bindTable(this.table, "readWrite")
      .bindSecret(openaiApiKey, "OPENAI_API_KEY_SECRET_ARN")
      .bindSecret(openaiWebhookSecret, "OPENAI_WEBHOOK_SECRET_ARN");
    this.#upstreamAccess(this.streamFunction, props);
    this.streamFunction.bindDeliverer(this.pollerFunction);
    // Auth NONE at the URL: the app checks the relay's bearer key, as behind API Gateway. CORS is
    // off unless origins are named: no browser page can read a stream cross-origin by default.
    const streamUrl = this.streamFunction.fn.addFunctionUrl({
      authType: FunctionUrlAuthType.NONE,
      invokeMode: InvokeMode.RESPONSE_STREAM,
      cors: props.streamCorsOrigins?.length
        ? {
            allowedOrigins: props.streamCorsOrigins,
            allowedMethods: [HttpMethod.GET, HttpMethod.POST],
            allowedHeaders: ["authorization", "content-type", "last-event-id", "idempotency-key", "openai-beta"],
            exposedHeaders: ["x-request-id"],
            maxAge: Duration.hours(1),
          }
        : undefined,
    });
    // Where function URLs do not exist the stack deploys without one (cdk/function-url-regions.ts).
    const urlsAvailable = functionUrlsAvailable(this);
    (streamUrl.node.defaultChild as CfnResource).cfnOptions.condition = urlsAvailable;
    this.alarms.watchFunction("StreamFunction", this.streamFunction);
    // Only where the URL exists: a missing StreamUrl output means "no streaming in this region".
    new CfnOutput(this, "StreamUrl", {
      value: streamUrl.url,
      description: "Streaming base URL: <StreamUrl>v1/responses/{id}?stream=true",
      condition: urlsAvailable,
    });

    new RelayDashboard(this, "Dashboard", {
      stage: props.stage,
      alarms: this.alarms,
      httpApi: this.httpApi,
      functions: { http: this.httpApiFunction, poller: this.pollerFunction, stream: this.streamFunction },
    });
  }

  /** The upstreams' key secrets, and the worker to start, for a function that calls upstreams. */
  #upstreamAccess(fn: RelayFunction, props: RelayStackProps): void {
    for (const arn of props.upstreams?.secretArns ?? []) fn.bindSecretArn(arn);
    if (this.workerFunction) fn.bindWorker(this.workerFunction);
  }

  /** A RelayFunction with this stack's removal policy and the environment every relay function reads. */
  #relayFunction(id: string, props: Omit<RelayFunctionProps, "removalPolicy">): RelayFunction {
    return new RelayFunction(this, id, {
      ...props,
      removalPolicy: this.#removalPolicy,
      environment: { ...this.#commonEnv, ...props.environment },
    });
  }
}

/** JSON access log lines with the HTTP API's own context variables (the CDK default is CLF). */
function accessLogFormat(): AccessLogFormat {
  return AccessLogFormat.custom(
    JSON.stringify({
      requestId: "$context.requestId",
      time: "$context.requestTime",
      method: "$context.httpMethod",
      path: "$context.path",
      status: "$context.status",
      responseLength: "$context.responseLength",
      latencyMs: "$context.responseLatency",
      integrationLatencyMs: "$context.integrationLatency",
      integrationError: "$context.integrationErrorMessage",
      sourceIp: "$context.identity.sourceIp",
      userAgent: "$context.identity.userAgent",
    }),
  );
}
