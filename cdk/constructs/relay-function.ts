import { join } from "node:path";
import type { Duration, RemovalPolicy } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import type { IEventBus } from "aws-cdk-lib/aws-events";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import {
  ApplicationLogLevel,
  Architecture,
  LoggingFormat,
  Runtime,
  SystemLogLevel,
  Tracing,
} from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat, type BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import { NagSuppressions } from "cdk-nag";
import { Construct } from "constructs";
import { INDEXES } from "#shared/store/table-definition.ts";
import {
  bundleAliases,
  entryPath,
  LAMBDA_NODE_MAJOR,
  REPO_ROOT,
  RELAY_BUNDLING,
  type FunctionName,
} from "#cdk/bundling.ts";

/** Pinned to match LAMBDA_NODE_MAJOR (the esbuild target); never NODEJS_LATEST. */
const RELAY_RUNTIME = Runtime.NODEJS_24_X;
if (RELAY_RUNTIME.name !== `nodejs${LAMBDA_NODE_MAJOR}.x`)
  throw new Error(`RELAY_RUNTIME ${RELAY_RUNTIME.name} does not match LAMBDA_NODE_MAJOR ${LAMBDA_NODE_MAJOR}.`);

/**
 * DynamoDB actions per access mode. Listed rather than `grantReadWriteData()`: no Scan, no
 * DescribeTable, and indexes by name instead of `index/*`. TransactWriteItems has no IAM action of
 * its own; it needs the action of each item it writes. test/cdk checks that every command the
 * stores send is covered.
 */
export const TABLE_ACTIONS = {
  read: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
  readWrite: [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
  ],
} as const;

export type TableAccess = keyof typeof TABLE_ACTIONS;

/** The team's esbuild settings in NodejsFunction's terms (cdk/bundling.ts holds the values). */
const NODEJS_BUNDLING: BundlingOptions = {
  target: RELAY_BUNDLING.target,
  format: OutputFormat.ESM,
  minify: RELAY_BUNDLING.minify,
  keepNames: RELAY_BUNDLING.keepNames,
  sourceMap: RELAY_BUNDLING.sourcemap,
  sourcesContent: RELAY_BUNDLING.sourcesContent,
  mainFields: [...RELAY_BUNDLING.mainFields],
  banner: RELAY_BUNDLING.banner,
  externalModules: [...RELAY_BUNDLING.external],
  // NodejsFunction has no alias option: esbuild's own flag, `--alias:<package>=<path>`.
  esbuildArgs: Object.fromEntries(Object.entries(bundleAliases()).map(([from, to]) => [`--alias:${from}`, to])),
  // esbuild from node_modules, never Docker: synth works offline and matches the bundle test.
  forceDockerBundling: false,
};

export interface RelayFunctionProps {
  /** Which entry in FUNCTION_ENTRIES (cdk/bundling.ts). */
  name: FunctionName;
  description: string;
  timeout: Duration;
  /** CPU scales with memory; 1024 MB keeps cold starts of a ~0.7 MB bundle short. */
  memorySize?: number;
  reservedConcurrentExecutions?: number;
  environment?: Record<string, string>;
  logRetention?: RetentionDays;
  /** Applies to the log group (the function itself holds no data). */
  removalPolicy: RemovalPolicy;
}

/**
 * A relay Lambda with the team's defaults: pinned Node runtime, ARM64, local esbuild bundling (ESM,
 * minified, source maps), JSON logs into an explicit log group with retention, X-Ray tracing, and
 * its own role that starts with nothing but writing to that log group. Everything else arrives
 * through `bind…()`, which sets the environment variable and grants the matching IAM together, so
 * a function can never have a table name without the permission (or the reverse).
 */
export class RelayFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly logGroup: LogGroup;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: RelayFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy,
    });
    // Our own role instead of AWSLambdaBasicExecutionRole, whose logs:* permissions span every log group.
    this.role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `Runs the ${props.name} function of responses-relay`,
    });
    this.logGroup.grantWrite(this.role);

    this.fn = new NodejsFunction(this, "Function", {
      entry: entryPath(props.name),
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, "package-lock.json"),
      handler: "handler",
      description: props.description,
      runtime: RELAY_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      role: this.role,
      tracing: Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: ApplicationLogLevel.INFO,
      systemLogLevelV2: SystemLogLevel.INFO,
      bundling: NODEJS_BUNDLING,
      environment: {
        NODE_OPTIONS: "--enable-source-maps",
        ...props.environment,
      },
    });
    // Tracing.ACTIVE adds xray:PutTraceSegments/PutTelemetryRecords on "*" to the role. test/cdk
    // asserts that X-Ray is the only statement with a "*" resource, so this cannot hide another.
    NagSuppressions.addResourceSuppressions(
      this.role,
      [
        {
          id: "AwsSolutions-IAM5",
          appliesTo: ["Resource::*"],
          reason:
            "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions; AWS documents " +
            'Resource "*" for them (AWSXRayDaemonWriteAccess); so does dynamodb:ListStreams, which the outbox\'s stream ' +
            "event source grants. Every other statement of this role names its resource.",
        },
      ],
      true,
    );
  }

  /** RELAY_TABLE_NAME plus the DynamoDB actions of `access` on the table and its indexes (by name). */
  bindTable(table: ITable, access: TableAccess): this {
    this.fn.addEnvironment("RELAY_TABLE_NAME", table.tableName);
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [...TABLE_ACTIONS[access]],
        resources: [table.tableArn, ...INDEXES.map((index) => `${table.tableArn}/index/${index.name}`)],
      }),
    );
    return this;
  }

  /** `envName` = the secret's ARN (never its value; functions/bootstrap.ts reads it through a max-age cache), plus read access to that one secret. */
  bindSecret(secret: ISecret, envName: string): this {
    this.fn.addEnvironment(envName, secret.secretArn);
    secret.grantRead(this.role);
    return this;
  }

  /** Read access to a secret named only by its ARN (an upstream's key from the upstreams file). */
  bindSecretArn(arn: string): this {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ["secretsmanager:GetSecretValue"], resources: [arn] }),
    );
    return this;
  }

  /** RELAY_WORKER_FUNCTION plus lambda:InvokeFunction on the worker only (it runs emulated jobs). */
  bindWorker(worker: RelayFunction): this {
    this.fn.addEnvironment("RELAY_WORKER_FUNCTION", worker.fn.functionName);
    // The function itself, not grantInvoke's `:*` (every version and alias), which is all it needs.
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [worker.fn.functionArn] }),
    );
    return this;
  }

  /**
   * RELAY_DELIVERY_FUNCTION plus the right to invoke it: the webhook of a job this function sees
   * end is sent by the poller function, invoked asynchronously, not at the poller's next tick.
   */
  bindDeliverer(poller: RelayFunction): this {
    this.fn.addEnvironment("RELAY_DELIVERY_FUNCTION", poller.fn.functionName);
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [poller.fn.functionArn] }),
    );
    return this;
  }

  /** RELAY_EVENT_BUS_NAME plus events:PutEvents on that bus only. */
  bindBus(bus: IEventBus): this {
    this.fn.addEnvironment("RELAY_EVENT_BUS_NAME", bus.eventBusName);
    bus.grantPutEventsTo(this.role);
    return this;
  }

  /** A plain environment variable (not a secret, not a resource: no IAM to go with it). */
  setEnv(name: string, value: string): this {
    this.fn.addEnvironment(name, value);
    return this;
  }
}
