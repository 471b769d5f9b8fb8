import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Aspects, Token } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks, NagReportFormat } from "cdk-nag";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTableInput, INDEXES, TABLE_ATTRIBUTES } from "#shared/store/table-definition.ts";
import { entryPath, esbuildOptions, REPO_ROOT, RELAY_BUNDLING } from "#cdk/bundling.ts";
import { ContextError, parseRelayContext } from "#cdk/context.ts";
import { RELAY_METRICS } from "#cdk/constructs/relay-alarms.ts";
import { TABLE_ACTIONS } from "#cdk/constructs/relay-function.ts";
import { DUE_SHARDS, OLDEST_DUE_AGE_ALARM_SECONDS, POLL_TICK_MS } from "#cdk/relay-settings.ts";
import { REGIONS_WITHOUT_FUNCTION_URLS } from "#cdk/function-url-regions.ts";
import { MAX_STEP_MS, POLLER_TIMEOUT_S, SAFETY_MS, pollerWindowMs } from "#shared/poller/window.ts";
import { RelayStack, type RelayStackProps } from "#cdk/relay-stack.ts";

type Json = any;

interface Synthesized {
  stack: RelayStack;
  template: Template;
  json: Json;
  annotations: Annotations;
  outdir: string;
  nagReport: { ruleId: string; resourceId: string; compliance: string; exceptionReason: string }[];
}

const outdirs: string[] = [];

/** Synthesizes once per branch (bundling both functions with local esbuild) with the AwsSolutions checks on. */
async function synth(props: RelayStackProps): Promise<Synthesized> {
  const outdir = await mkdtemp(join(tmpdir(), "relay-cdk-"));
  outdirs.push(outdir);
  // Path and asset metadata (on under the CLI) let the tests find resources and bundles.
  const app = new App({
    outdir,
    context: { "aws:cdk:enable-path-metadata": true, "aws:cdk:enable-asset-metadata": true },
  });
  const stack = new RelayStack(app, `RelayTest-${props.stage}`, props);
  Aspects.of(stack).add(new AwsSolutionsChecks({ verbose: true, reportFormats: [NagReportFormat.JSON] }));
  const template = Template.fromStack(stack);
  const annotations = Annotations.fromStack(stack);
  const reportFile = (await readdir(outdir)).find((f) => f.startsWith("AwsSolutions-") && f.endsWith(".json"));
  // Each synth (template, annotations) appends to the report: keep one line per finding.
  const lines: Synthesized["nagReport"] = JSON.parse(await readFile(join(outdir, reportFile!), "utf8")).lines;
  const nagReport = [...new Map(lines.map((l) => [`${l.ruleId} ${l.resourceId} ${l.compliance}`, l])).values()];
  return { stack, template, json: template.toJSON(), annotations, outdir, nagReport };
}

const branches: Record<"dev" | "prod", Synthesized> = {} as never;
const PROD_PROPS: RelayStackProps = {
  stage: "prod",
  retain: true,
  pollerReservedConcurrency: 2,
  streamCorsOrigins: ["https://app.example.com"],
  alarmEmail: "oncall@example.com",
  publicUrl: "https://relay.example.com",
  openaiBaseUrl: "https://contoso.openai.azure.com/openai/v1",
};

beforeAll(async () => {
  [branches.dev, branches.prod] = await Promise.all([synth({ stage: "dev", retain: false }), synth(PROD_PROPS)]);
  // Two synths with bundling: seconds alone, minutes on a shared 2-core machine under a full run.
}, 300_000);

afterAll(async () => {
  await Promise.all(outdirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

// ---- helpers over the synthesized JSON ----

const resourcesOfType = (json: Json, type: string): [string, Json][] =>
  Object.entries(json.Resources).filter(([, r]: [string, Json]) => r.Type === type) as [string, Json][];

function byPath(json: Json, type: string, path: string): [string, Json] {
  const found = resourcesOfType(json, type).filter(([, r]) =>
    (r.Metadata?.["aws:cdk:path"] as string | undefined)?.endsWith(`/${path}`),
  );
  if (found.length !== 1) throw new Error(`expected one ${type} at */${path}, found ${found.length}`);
  return found[0]!;
}

type FunctionId = "HttpApiFunction" | "PollerFunction" | "StreamFunction" | "LifecycleOutboxFunction";
const ALL_FUNCTIONS = ["HttpApiFunction", "PollerFunction", "StreamFunction", "LifecycleOutboxFunction"] as const;
const fn = (s: Synthesized, name: FunctionId) => byPath(s.json, "AWS::Lambda::Function", `${name}/Function/Resource`);
const env = (s: Synthesized, name: FunctionId): Record<string, unknown> =>
  fn(s, name)[1].Properties.Environment.Variables;
const logicalId = (s: Synthesized, type: string, path: string) => byPath(s.json, type, path)[0];

/** Every statement of every policy attached to the function's role. */
function roleStatements(s: Synthesized, name: FunctionId): Json[] {
  const roleId = logicalId(s, "AWS::IAM::Role", `${name}/Role/Resource`);
  return resourcesOfType(s.json, "AWS::IAM::Policy")
    .filter(([, p]) => p.Properties.Roles.some((r: Json) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

const actionsOf = (statement: Json): string[] => [statement.Action].flat();
const resourcesOf = (statement: Json): Json[] => [statement.Resource].flat();
const tableArn = (s: Synthesized) => ({
  "Fn::GetAtt": [logicalId(s, "AWS::DynamoDB::Table", "Table/Resource"), "Arn"],
});

// ---- the table ----

describe("DynamoDB table", () => {
  it("is built from shared/store/table-definition.ts: the same keys, attributes and indexes as the local table", () => {
    const expected = createTableInput("ignored");
    const table = byPath(branches.dev.json, "AWS::DynamoDB::Table", "Table/Resource")[1].Properties;
    expect(table.KeySchema).toEqual(expected.KeySchema);
    expect(new Set(table.AttributeDefinitions.map(JSON.stringify))).toEqual(
      new Set(expected.AttributeDefinitions.map((a) => JSON.stringify(a))),
    );
    const byName = (list: { IndexName: string }[]) => [...list].sort((a, b) => a.IndexName.localeCompare(b.IndexName));
    expect(byName(table.GlobalSecondaryIndexes)).toEqual(byName(expected.GlobalSecondaryIndexes));
    expect(table.GlobalSecondaryIndexes.map((i: Json) => i.IndexName).sort()).toEqual(
      INDEXES.map((i) => i.name).sort(),
    );
  });

  it("is on-demand, with point-in-time recovery and TTL on the shared TTL attribute", () => {
    branches.dev.template.hasResourceProperties("AWS::DynamoDB::Table", {
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE_ATTRIBUTES.ttl, Enabled: true },
    });
    branches.dev.template.resourceCountIs("AWS::DynamoDB::Table", 1);
  });
});

// ---- the retain flag, both branches ----

describe("retain flag", () => {
  it("retain=false (dev): table without deletion protection, DESTROY everywhere, no termination protection", () => {
    const { json, stack } = branches.dev;
    const [, table] = byPath(json, "AWS::DynamoDB::Table", "Table/Resource");
    expect(table.DeletionPolicy).toBe("Delete");
    expect(table.UpdateReplacePolicy).toBe("Delete");
    expect(table.Properties.DeletionProtectionEnabled).toBe(false);
    for (const type of ["AWS::SecretsManager::Secret", "AWS::Logs::LogGroup"]) {
      for (const [id, r] of resourcesOfType(json, type)) expect(r.DeletionPolicy, id).toBe("Delete");
    }
    expect(stack.terminationProtection).toBe(false);
  });

  it("retain=true (prod): deletion-protected table, RETAIN for table, secrets and logs, termination protection", () => {
    const { json, stack } = branches.prod;
    const [, table] = byPath(json, "AWS::DynamoDB::Table", "Table/Resource");
    expect(table.DeletionPolicy).toBe("Retain");
    expect(table.UpdateReplacePolicy).toBe("Retain");
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    for (const type of ["AWS::SecretsManager::Secret", "AWS::Logs::LogGroup"]) {
      const found = resourcesOfType(json, type);
      expect(found.length).toBeGreaterThan(0);
      for (const [id, r] of found) expect(r.DeletionPolicy, id).toBe("Retain");
    }
    expect(stack.terminationProtection).toBe(true);
  });
});

// ---- functions ----

describe("Lambda functions", () => {
  it.each(ALL_FUNCTIONS)(
    "%s: pinned Node runtime, ARM64, ESM bundle, source maps, JSON logs into its own log group",
    (name) => {
      const [, f] = fn(branches.dev, name);
      expect(f.Properties.Runtime).toBe("nodejs24.x");
      expect(f.Properties.Architectures).toEqual(["arm64"]);
      expect(f.Properties.Handler).toBe("index.handler");
      expect(f.Properties.TracingConfig).toEqual({ Mode: "Active" });
      expect(env(branches.dev, name).NODE_OPTIONS).toBe("--enable-source-maps");
      expect(f.Properties.LoggingConfig).toMatchObject({
        LogFormat: "JSON",
        LogGroup: { Ref: logicalId(branches.dev, "AWS::Logs::LogGroup", `${name}/Logs/Resource`) },
      });
      expect(
        byPath(branches.dev.json, "AWS::Logs::LogGroup", `${name}/Logs/Resource`)[1].Properties.RetentionInDays,
      ).toBe(30);
      expect(f.Metadata["aws:asset:is-bundled"]).toBe(true);
    },
  );

  it("http-api: times out before API Gateway's 30 s limit, no reserved concurrency (the stage throttles instead)", () => {
    const [, f] = fn(branches.dev, "HttpApiFunction");
    expect(f.Properties.Timeout).toBeLessThan(30);
    expect(f.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it("poller: its timeout holds a full minute of work plus one worst-case step; no reserved concurrency; no async retries", () => {
    const { template, json } = branches.dev;
    const [pollerId, f] = fn(branches.dev, "PollerFunction");
    expect(f.Properties.Timeout).toBe(POLLER_TIMEOUT_S);
    // Work starts for the whole minute (no gap before the next run) and still ends before the timeout.
    expect(pollerWindowMs(f.Properties.Timeout * 1000)).toBe(60_000);
    expect(60_000 + MAX_STEP_MS + SAFETY_MS).toBeLessThanOrEqual(f.Properties.Timeout * 1000);
    // A reservation needs quota a new account does not have (CREATE_FAILED, rollback): opt-in only.
    expect(f.Properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(fn(branches.prod, "PollerFunction")[1].Properties.ReservedConcurrentExecutions).toBe(2);
    expect(env(branches.dev, "PollerFunction").RELAY_POLL_TICK_MS).toBe(String(POLL_TICK_MS));
    template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: pollerId },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
    expect(resourcesOfType(json, "AWS::Lambda::EventInvokeConfig")).toHaveLength(1);
  });

  it("poller: an EventBridge rule invokes it every minute", () => {
    const { template } = branches.dev;
    const [pollerId] = fn(branches.dev, "PollerFunction");
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [pollerId, "Arn"] } })],
    });
    template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      FunctionName: { "Fn::GetAtt": [pollerId, "Arn"] },
      Principal: "events.amazonaws.com",
    });
  });

  it("both functions get the same due-shard count, the table and the public URL; AWS never allows private webhooks", () => {
    const { json } = branches.dev;
    const tableId = logicalId(branches.dev, "AWS::DynamoDB::Table", "Table/Resource");
    const apiId = resourcesOfType(json, "AWS::ApiGatewayV2::Api")[0]![0];
    for (const name of ["HttpApiFunction", "PollerFunction"] as const) {
      const vars = env(branches.dev, name);
      expect(vars.RELAY_TABLE_NAME).toEqual({ Ref: tableId });
      // Only the outbox publishes lifecycle events (from the table's stream).
      expect(vars.RELAY_EVENT_BUS_NAME).toBeUndefined();
      expect(vars.RELAY_DUE_SHARDS).toBe(String(DUE_SHARDS));
      expect(vars.RELAY_ALLOW_PRIVATE_WEBHOOKS).toBe("false");
      expect(vars.OPENAI_BASE_URL).toBe("https://api.openai.com/v1");
      expect(vars.RELAY_STAGE).toBe("dev");
      expect(vars.RELAY_METRICS_NAMESPACE).toBe(RELAY_METRICS.namespace);
      expect(JSON.stringify(vars.RELAY_PUBLIC_URL)).toContain(apiId);
    }
  });

  it("http-api and stream may invoke the poller (webhooks of jobs that end outside it), nothing else", () => {
    const [pollerId] = fn(branches.dev, "PollerFunction");
    for (const name of ["HttpApiFunction", "StreamFunction"] as const) {
      expect(env(branches.dev, name).RELAY_DELIVERY_FUNCTION).toEqual({ Ref: pollerId });
      const invokes = roleStatements(branches.dev, name).filter((s) => actionsOf(s).includes("lambda:InvokeFunction"));
      expect(invokes.flatMap(resourcesOf)).toEqual([{ "Fn::GetAtt": [pollerId, "Arn"] }]);
    }
    expect(env(branches.dev, "PollerFunction").RELAY_DELIVERY_FUNCTION).toBeUndefined();
  });

  it("prod: the custom public URL and the Azure base URL reach both functions", () => {
    for (const name of ["HttpApiFunction", "PollerFunction"] as const) {
      const vars = env(branches.prod, name);
      expect(vars.RELAY_PUBLIC_URL).toBe(PROD_PROPS.publicUrl);
      expect(vars.OPENAI_BASE_URL).toBe(PROD_PROPS.openaiBaseUrl);
      expect(vars.RELAY_STAGE).toBe("prod");
    }
  });

  it("the deployed asset is byte-for-byte what the esbuild API builds from cdk/bundling.ts (what test/bundles runs)", async () => {
    const [, f] = fn(branches.dev, "PollerFunction");
    const staged = await readFile(join(branches.dev.outdir, f.Metadata["aws:asset:path"], RELAY_BUNDLING.outFile));
    const outdir = await mkdtemp(join(tmpdir(), "relay-esbuild-"));
    outdirs.push(outdir);
    await build(esbuildOptions(entryPath("poller"), outdir));
    const direct = await readFile(join(outdir, RELAY_BUNDLING.outFile));
    expect(staged.length).toBeGreaterThan(10_000);
    expect(staged.equals(direct)).toBe(true);
  });
});

// ---- secrets and IAM ----

describe("secrets", () => {
  it("two operator-filled secrets: no generated value, no value in the template", () => {
    const secrets = resourcesOfType(branches.dev.json, "AWS::SecretsManager::Secret");
    expect(secrets).toHaveLength(2);
    for (const [id, s] of secrets) {
      expect(s.Properties.GenerateSecretString, id).toBeUndefined();
      expect(s.Properties.SecretString, id).toBeUndefined();
    }
  });

  it("functions get secret ARNs, never secret values", () => {
    const apiKeyId = logicalId(branches.dev, "AWS::SecretsManager::Secret", "OpenAiApiKey/Resource");
    const webhookId = logicalId(branches.dev, "AWS::SecretsManager::Secret", "OpenAiWebhookSecret/Resource");
    const http = env(branches.dev, "HttpApiFunction");
    const poller = env(branches.dev, "PollerFunction");
    expect(http.OPENAI_API_KEY_SECRET_ARN).toEqual({ Ref: apiKeyId });
    expect(http.OPENAI_WEBHOOK_SECRET_ARN).toEqual({ Ref: webhookId });
    expect(poller.OPENAI_API_KEY_SECRET_ARN).toEqual({ Ref: apiKeyId });
    expect(poller.OPENAI_WEBHOOK_SECRET_ARN).toEqual({ Ref: webhookId });
    for (const vars of [http, poller]) {
      expect(vars.OPENAI_API_KEY).toBeUndefined();
      expect(vars.OPENAI_WEBHOOK_SECRET).toBeUndefined();
      for (const value of Object.values(vars))
        expect(JSON.stringify(value)).not.toMatch(/sk-|whsec_|resolve:secretsmanager/);
    }
  });
});

describe("IAM, per function", () => {
  it.each(ALL_FUNCTIONS)("%s: its own role, no managed policies, logs only to its own log group", (name) => {
    const [, role] = byPath(branches.dev.json, "AWS::IAM::Role", `${name}/Role/Resource`);
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const logs = roleStatements(branches.dev, name).filter((s) => actionsOf(s).some((a) => a.startsWith("logs:")));
    expect(logs).toHaveLength(1);
    expect(actionsOf(logs[0]).sort()).toEqual(["logs:CreateLogStream", "logs:PutLogEvents"]);
    expect(resourcesOf(logs[0])).toEqual([
      { "Fn::GetAtt": [logicalId(branches.dev, "AWS::Logs::LogGroup", `${name}/Logs/Resource`), "Arn"] },
    ]);
  });

  it.each(["HttpApiFunction", "PollerFunction", "StreamFunction"] as const)(
    "%s: DynamoDB actions on the table and its named indexes only, no Scan",
    (name) => {
      const dynamo = roleStatements(branches.dev, name).filter((s) =>
        actionsOf(s).some((a) => a.startsWith("dynamodb:")),
      );
      expect(dynamo).toHaveLength(1);
      expect(actionsOf(dynamo[0]).sort()).toEqual([...TABLE_ACTIONS.readWrite].sort());
      expect(actionsOf(dynamo[0])).not.toContain("dynamodb:Scan");
      const arn = tableArn(branches.dev);
      expect(resourcesOf(dynamo[0])).toEqual([
        arn,
        ...INDEXES.map((i) => ({ "Fn::Join": ["", [arn, `/index/${i.name}`]] })),
      ]);
    },
  );

  it.each([
    ["HttpApiFunction", ["OpenAiApiKey", "OpenAiWebhookSecret"]],
    // The poller reads the webhook secret only to know whether a lost create can be found (decision 0003).
    ["PollerFunction", ["OpenAiApiKey", "OpenAiWebhookSecret"]],
    ["StreamFunction", ["OpenAiApiKey", "OpenAiWebhookSecret"]],
    ["LifecycleOutboxFunction", []],
  ] as const)("%s: reads exactly the secrets %j", (name, secrets) => {
    const statements = roleStatements(branches.dev, name).filter((s) =>
      actionsOf(s).some((a) => a.startsWith("secretsmanager:")),
    );
    for (const s of statements)
      expect(actionsOf(s).sort()).toEqual(["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]);
    expect(statements.flatMap(resourcesOf)).toEqual(
      secrets.map((id) => ({ Ref: logicalId(branches.dev, "AWS::SecretsManager::Secret", `${id}/Resource`) })),
    );
  });

  it("only the outbox may put events, on the relay bus only; the writers publish nothing themselves", () => {
    const busId = resourcesOfType(branches.dev.json, "AWS::Events::EventBus")[0]![0];
    const eventsOf = (name: FunctionId) =>
      roleStatements(branches.dev, name).filter((s) => actionsOf(s).some((a) => a.startsWith("events:")));
    const events = eventsOf("LifecycleOutboxFunction");
    expect(events).toHaveLength(1);
    expect(actionsOf(events[0])).toEqual(["events:PutEvents"]);
    expect(resourcesOf(events[0])).toEqual([{ "Fn::GetAtt": [busId, "Arn"] }]);
    expect(env(branches.dev, "LifecycleOutboxFunction").RELAY_EVENT_BUS_NAME).toEqual({ Ref: busId });
    for (const name of ["HttpApiFunction", "PollerFunction", "StreamFunction"] as const)
      expect(eventsOf(name), name).toEqual([]);
  });

  it.each(["HttpApiFunction", "PollerFunction", "StreamFunction"] as const)(
    "%s: the only '*' resource is X-Ray (the one IAM5 suppression)",
    (name) => {
      const statements = roleStatements(branches.dev, name);
      const wildcard = statements.filter((s) => resourcesOf(s).some((r) => typeof r === "string" && r.includes("*")));
      expect(wildcard).toHaveLength(1);
      expect(actionsOf(wildcard[0]).sort()).toEqual(["xray:PutTelemetryRecords", "xray:PutTraceSegments"]);
      expect(statements.every((s) => s.Effect === "Allow" && actionsOf(s).every((a) => !a.includes("*")))).toBe(true);
    },
  );

  it("grants every AWS API call the functions' code makes (a new command without IAM fails here, not in AWS)", async () => {
    // SDK command -> the IAM actions it needs. A transaction needs the action of each item it holds.
    const needs: Record<string, string[]> = {
      Get: ["dynamodb:GetItem"],
      GetItem: ["dynamodb:GetItem"],
      Put: ["dynamodb:PutItem"],
      PutItem: ["dynamodb:PutItem"],
      Update: ["dynamodb:UpdateItem"],
      UpdateItem: ["dynamodb:UpdateItem"],
      Delete: ["dynamodb:DeleteItem"],
      DeleteItem: ["dynamodb:DeleteItem"],
      Query: ["dynamodb:Query"],
      BatchGet: ["dynamodb:BatchGetItem"],
      BatchGetItem: ["dynamodb:BatchGetItem"],
      BatchWrite: ["dynamodb:BatchWriteItem"],
      BatchWriteItem: ["dynamodb:BatchWriteItem"],
      TransactWrite: ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"],
      TransactWriteItems: [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
      ],
      TransactGet: ["dynamodb:GetItem"],
      TransactGetItems: ["dynamodb:GetItem"],
      GetSecretValue: ["secretsmanager:GetSecretValue"],
      PutEvents: ["events:PutEvents"],
      Invoke: ["lambda:InvokeFunction"],
    };
    // Invoking is per function: the worker's in a stack with an upstream without background mode
    // (test/cdk/worker-stack.test.ts), the poller's for http-api and stream (checked above).
    const withWorkerOnly = new Set(["lambda:InvokeFunction"]);
    const sources = await sourceFiles(["shared", "functions"]);
    const commands = new Set<string>();
    for (const text of sources) for (const m of text.matchAll(/new\s+(\w+)Command\s*\(/g)) commands.add(m[1]!);
    expect(commands.size).toBeGreaterThan(3);
    const unknown = [...commands].filter((c) => !needs[c]);
    expect(unknown, "commands with no known IAM mapping: add them to this test and grant them in the stack").toEqual(
      [],
    );

    // Lifecycle events are published by the outbox alone (from the table's stream).
    const required = new Set(
      [...commands].flatMap((c) => needs[c] ?? []).filter((a) => !withWorkerOnly.has(a) && a !== "events:PutEvents"),
    );
    for (const name of ["HttpApiFunction", "PollerFunction"] as const) {
      const granted = new Set(roleStatements(branches.dev, name).flatMap(actionsOf));
      expect(
        [...required].filter((a) => !granted.has(a)),
        name,
      ).toEqual([]);
    }
    expect(roleStatements(branches.dev, "LifecycleOutboxFunction").flatMap(actionsOf)).toContain("events:PutEvents");
  });
});

async function sourceFiles(dirs: string[]): Promise<string[]> {
  const texts: string[] = [];
  for (const dir of dirs) {
    for (const entry of await readdir(join(REPO_ROOT, dir), { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith(".ts"))
        texts.push(await readFile(join(entry.parentPath, entry.name), "utf8"));
    }
  }
  return texts;
}

// ---- HTTP API, bus, alarms, outputs ----

describe("HTTP API", () => {
  it("one $default route proxies everything to the http-api function (payload 2.0)", () => {
    const { template, json } = branches.dev;
    const [fnId] = fn(branches.dev, "HttpApiFunction");
    template.resourceCountIs("AWS::ApiGatewayV2::Api", 1);
    template.hasResourceProperties("AWS::ApiGatewayV2::Api", { ProtocolType: "HTTP" });
    const routes = resourcesOfType(json, "AWS::ApiGatewayV2::Route");
    expect(routes).toHaveLength(1);
    expect(routes[0]![1].Properties.RouteKey).toBe("$default");
    template.hasResourceProperties("AWS::ApiGatewayV2::Integration", {
      IntegrationType: "AWS_PROXY",
      PayloadFormatVersion: "2.0",
      IntegrationUri: { "Fn::GetAtt": [fnId, "Arn"] },
    });
  });

  it("the $default stage auto-deploys, is throttled and writes JSON access logs with the request id", () => {
    const [, stage] = byPath(branches.dev.json, "AWS::ApiGatewayV2::Stage", "HttpApiStage/Resource");
    expect(stage.Properties).toMatchObject({
      StageName: "$default",
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: expect.any(Number), ThrottlingBurstLimit: expect.any(Number) },
      AccessLogSettings: {
        DestinationArn: {
          "Fn::GetAtt": [logicalId(branches.dev, "AWS::Logs::LogGroup", "HttpApiAccessLogs/Resource"), "Arn"],
        },
      },
    });
    expect(JSON.parse(stage.Properties.AccessLogSettings.Format).requestId).toBe("$context.requestId");
  });
});

describe("lifecycle outbox", () => {
  it("the table streams new and old images, the view shared/events/lifecycle-outbox.ts reads", () => {
    const [, table] = byPath(branches.dev.json, "AWS::DynamoDB::Table", "Table/Resource");
    expect(table.Properties.StreamSpecification).toEqual({
      StreamViewType: createTableInput("x").StreamSpecification.StreamViewType,
    });
  });

  it("maps the stream to the outbox function: job items only, from the oldest record, retried, bisected, then to a queue", () => {
    const { json } = branches.dev;
    const [outboxId] = fn(branches.dev, "LifecycleOutboxFunction");
    const tableId = logicalId(branches.dev, "AWS::DynamoDB::Table", "Table/Resource");
    const mappings = resourcesOfType(json, "AWS::Lambda::EventSourceMapping").map(([, m]) => m.Properties);
    expect(mappings).toHaveLength(1);
    const [mapping] = mappings;
    const queueId = logicalId(branches.dev, "AWS::SQS::Queue", "LifecycleOutbox/OnFailure/Resource");
    expect(mapping).toMatchObject({
      FunctionName: { Ref: outboxId },
      EventSourceArn: { "Fn::GetAtt": [tableId, "StreamArn"] },
      StartingPosition: "TRIM_HORIZON",
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86_400,
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [queueId, "Arn"] } } },
    });
    // The filter: sort key "JOB" (chunks, event-log batches and leases never invoke the function).
    const pattern = JSON.parse(mapping.FilterCriteria.Filters[0].Pattern);
    expect(pattern).toEqual({ dynamodb: { Keys: { [TABLE_ATTRIBUTES.sortKey]: { S: ["JOB"] } } } });
    // It reads the stream and writes the queue, nothing else of the table.
    const statements = roleStatements(branches.dev, "LifecycleOutboxFunction");
    const dynamo = statements.flatMap(actionsOf).filter((a) => a.startsWith("dynamodb:"));
    expect(dynamo.sort()).toEqual(
      ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"].sort(),
    );
    expect(statements.flatMap(actionsOf)).toEqual(expect.arrayContaining(["sqs:SendMessage"]));
  });

  it("alarms on batches given up (the on-failure queue) and on records waiting over 5 minutes", () => {
    const alarms = resourcesOfType(branches.dev.json, "AWS::CloudWatch::Alarm").map(([, a]) => a.Properties);
    const queueId = logicalId(branches.dev, "AWS::SQS::Queue", "LifecycleOutbox/OnFailure/Resource");
    const [outboxId] = fn(branches.dev, "LifecycleOutboxFunction");
    expect(
      alarms.filter(
        (a) =>
          a.MetricName === "ApproximateNumberOfMessagesVisible" &&
          a.Dimensions?.[0]?.Value?.["Fn::GetAtt"]?.[0] === queueId,
      ),
    ).toEqual([expect.objectContaining({ Threshold: 1, ComparisonOperator: "GreaterThanOrEqualToThreshold" })]);
    expect(alarms.filter((a) => a.MetricName === "IteratorAge" && a.Dimensions?.[0]?.Value?.Ref === outboxId)).toEqual([
      expect.objectContaining({ Threshold: 300_000, Statistic: "Maximum" }),
    ]);
  });
});

describe("EventBridge bus", () => {
  it("exists once, for the relay's lifecycle events", () => {
    branches.dev.template.resourceCountIs("AWS::Events::EventBus", 1);
  });
});

describe("alarms", () => {
  const alarms = (s: Synthesized) => resourcesOfType(s.json, "AWS::CloudWatch::Alarm").map(([, a]) => a.Properties);
  const topicId = (s: Synthesized) => resourcesOfType(s.json, "AWS::SNS::Topic")[0]![0];

  it("errors and throttles of both functions, poller heartbeat, API 5xx", () => {
    const s = branches.dev;
    for (const name of ["HttpApiFunction", "PollerFunction"] as const) {
      const [fnId] = fn(s, name);
      for (const metric of ["Errors", "Throttles"]) {
        const found = alarms(s).filter(
          (a) => a.MetricName === metric && a.Namespace === "AWS/Lambda" && a.Dimensions?.[0]?.Value?.Ref === fnId,
        );
        expect(found, `${name} ${metric}`).toHaveLength(1);
        expect(found[0]).toMatchObject({ Threshold: 1, ComparisonOperator: "GreaterThanOrEqualToThreshold" });
      }
    }
    const [pollerId] = fn(s, "PollerFunction");
    expect(
      alarms(s).filter((a) => a.MetricName === "Invocations" && a.Dimensions?.[0]?.Value?.Ref === pollerId),
    ).toEqual([
      expect.objectContaining({ ComparisonOperator: "LessThanThreshold", Threshold: 1, TreatMissingData: "breaching" }),
    ]);
    expect(alarms(s).filter((a) => a.MetricName === "5xx" && a.Namespace === "AWS/ApiGateway")).toHaveLength(1);
  });

  it.each([
    [RELAY_METRICS.oldestPendingJobAge, "Maximum"],
    [RELAY_METRICS.webhookDeliveriesExhausted, "Sum"],
    [RELAY_METRICS.ambiguousCreates, "Sum"],
    [RELAY_METRICS.webhookBacklog, "Maximum"],
    [RELAY_METRICS.secretInvalid, "Sum"],
  ])("custom metric %s: the namespace and dimensions Powertools emits (service, Stage)", (metricName, statistic) => {
    for (const s of [branches.dev, branches.prod]) {
      const found = alarms(s).filter((a) => a.MetricName === metricName);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        Namespace: "ResponsesRelay",
        Statistic: statistic,
        TreatMissingData: "notBreaching",
      });
      // A metric is the namespace, name and the exact set of dimensions: one more or less and the alarm sees nothing.
      expect(Object.fromEntries(found[0].Dimensions.map((d: Json) => [d.Name, d.Value]))).toEqual({
        service: "responses-relay",
        Stage: s.stack.stackName.endsWith("prod") ? "prod" : "dev",
      });
    }
  });

  it("the lag alarm pages at the threshold the overdue-by-an-hour test crosses", () => {
    const [lag] = alarms(branches.dev).filter((a) => a.MetricName === RELAY_METRICS.oldestPendingJobAge);
    expect(lag).toMatchObject({
      Threshold: OLDEST_DUE_AGE_ALARM_SECONDS,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
    });
  });

  it("upstream error rate: errors / calls over 10 minutes, only with enough calls", () => {
    const [rate] = alarms(branches.dev).filter((a) => a.Metrics?.some((m: Json) => m.Id === "expr_1"));
    expect(rate).toBeDefined();
    const expression = rate.Metrics.find((m: Json) => m.Expression).Expression as string;
    expect(expression).toMatch(/errors \/ calls/);
    const names = rate.Metrics.filter((m: Json) => m.MetricStat).map((m: Json) => m.MetricStat.Metric.MetricName);
    expect(names.sort()).toEqual([RELAY_METRICS.upstreamCalls, RELAY_METRICS.upstreamErrors].sort());
  });

  it("the alarm topic lets CloudWatch publish (its SSL-only policy would otherwise shut it out)", () => {
    for (const s of [branches.dev, branches.prod]) {
      const policies = resourcesOfType(s.json, "AWS::SNS::TopicPolicy");
      expect(policies).toHaveLength(1);
      const statements = policies[0]![1].Properties.PolicyDocument.Statement as Json[];
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: "Allow",
          Principal: { Service: "cloudwatch.amazonaws.com" },
          Action: "sns:Publish",
          Resource: { Ref: topicId(s) },
          Condition: expect.objectContaining({ StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } }),
        }),
      );
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
      );
    }
  });

  it("every alarm notifies the alarm topic, in and out of alarm", () => {
    for (const s of [branches.dev, branches.prod]) {
      const all = alarms(s);
      // errors + throttles for four functions, poller heartbeat, API 5xx, lag, exhausted webhooks,
      // upstream error rate, ambiguous creates, webhook backlog, bad secrets, the outbox's
      // on-failure queue and iterator age
      expect(all).toHaveLength(18);
      for (const a of all) {
        expect(a.AlarmActions).toEqual([{ Ref: topicId(s) }]);
        expect(a.OKActions).toEqual([{ Ref: topicId(s) }]);
      }
    }
  });

  it("the alarm email is subscribed only when given (prod here)", () => {
    branches.prod.template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: PROD_PROPS.alarmEmail,
      TopicArn: { Ref: topicId(branches.prod) },
    });
    branches.dev.template.resourceCountIs("AWS::SNS::Subscription", 0);
  });
});

describe("outputs", () => {
  it("API URL, bus name, table, secret ARNs, alarm topic", () => {
    const { template, json } = branches.dev;
    const apiId = resourcesOfType(json, "AWS::ApiGatewayV2::Api")[0]![0];
    expect(Object.keys(json.Outputs).sort()).toEqual([
      "AlarmTopicArn",
      "ApiUrl",
      "EventBusName",
      "OpenAiApiKeySecretArn",
      "OpenAiWebhookSecretArn",
      "StreamUrl",
      "TableName",
    ]);
    expect(JSON.stringify(json.Outputs.ApiUrl.Value)).toContain(apiId);
    template.hasOutput("EventBusName", { Value: { Ref: resourcesOfType(json, "AWS::Events::EventBus")[0]![0] } });
    template.hasOutput("OpenAiApiKeySecretArn", {
      Value: { Ref: logicalId(branches.dev, "AWS::SecretsManager::Secret", "OpenAiApiKey/Resource") },
    });
    expect(branches.prod.json.Outputs.ApiUrl.Value).toBe(PROD_PROPS.publicUrl);
  });
});

// ---- synth hygiene ----

describe("synth", () => {
  it.each(["dev", "prod"] as const)("%s: environment-agnostic, nothing looked up in an account", async (name) => {
    const { stack, outdir } = branches[name];
    expect(Token.isUnresolved(stack.account)).toBe(true);
    expect(Token.isUnresolved(stack.region)).toBe(true);
    // A fromLookup() would leave a "missing" context entry for the CLI to fetch from AWS.
    const manifest = JSON.parse(await readFile(join(outdir, "manifest.json"), "utf8"));
    expect(manifest.artifacts[stack.artifactId]).toBeDefined();
    expect(manifest.missing).toBeUndefined();
  });

  it.each(["dev", "prod"] as const)("%s: cdk-nag AwsSolutions — no unsuppressed errors or warnings", (name) => {
    const { annotations } = branches[name];
    expect(annotations.findError("*", Match.anyValue())).toEqual([]);
    expect(annotations.findWarning("*", Match.anyValue())).toEqual([]);
  });

  it.each(["dev", "prod"] as const)("%s: the checks ran, and exactly the reviewed suppressions apply", (name) => {
    const { nagReport, stack } = branches[name];
    expect(nagReport.filter((l) => l.compliance === "Compliant").map((l) => l.ruleId)).toEqual(
      expect.arrayContaining([
        "AwsSolutions-DDB3",
        "AwsSolutions-APIG1",
        "AwsSolutions-L1",
        "AwsSolutions-IAM4",
        "AwsSolutions-SNS3",
      ]),
    );
    expect(nagReport.filter((l) => l.compliance !== "Compliant" && l.compliance !== "Suppressed")).toEqual([]);
    const suppressed = nagReport
      .filter((l) => l.compliance === "Suppressed")
      .map((l) => `${l.ruleId} ${l.resourceId.replace(`${stack.stackName}/`, "")}`)
      .sort();
    expect(suppressed).toEqual(
      [
        "AwsSolutions-APIG4 HttpApiDefaultRoute/Resource",
        "AwsSolutions-IAM5 HttpApiFunction/Role/DefaultPolicy/Resource",
        "AwsSolutions-IAM5 LifecycleOutboxFunction/Role/DefaultPolicy/Resource",
        "AwsSolutions-SQS3 LifecycleOutbox/OnFailure/Resource",
        "AwsSolutions-IAM5 PollerFunction/Role/DefaultPolicy/Resource",
        "AwsSolutions-SMG4 OpenAiApiKey/Resource",
        "AwsSolutions-SMG4 OpenAiWebhookSecret/Resource",
        "AwsSolutions-IAM5 StreamFunction/Role/DefaultPolicy/Resource",
      ].sort(),
    );
    for (const line of nagReport.filter((l) => l.compliance === "Suppressed"))
      expect(line.exceptionReason.length).toBeGreaterThan(80);
  });
});

// ---- context ----

describe("context (cdk/app.ts)", () => {
  const parse = (ctx: Record<string, unknown>) => parseRelayContext((key) => ctx[key]);

  it("defaults to dev without retain; prod retains unless told otherwise", () => {
    expect(parse({})).toEqual({
      stage: "dev",
      retain: false,
      alarmEmail: undefined,
      openaiBaseUrl: undefined,
      publicUrl: undefined,
    });
    expect(parse({ stage: "prod" }).retain).toBe(true);
    expect(parse({ stage: "prod", retain: "false" }).retain).toBe(false);
    expect(parse({ stage: "dev", retain: "true" }).retain).toBe(true);
    expect(parse({ stage: "dev", retain: true }).retain).toBe(true);
  });

  it("takes the poller reservation and the stream CORS origins only when given", () => {
    expect(parse({}).pollerReservedConcurrency).toBeUndefined();
    expect(parse({}).streamCorsOrigins).toBeUndefined();
    expect(parse({ pollerReservedConcurrency: "2" }).pollerReservedConcurrency).toBe(2);
    expect(parse({ streamCorsOrigins: "https://a.example.com, https://b.example.com" }).streamCorsOrigins).toEqual([
      "https://a.example.com",
      "https://b.example.com",
    ]);
  });

  it("takes the optional values, trimming a trailing slash from URLs", () => {
    expect(
      parse({
        alarmEmail: "ops@example.com",
        publicUrl: "https://relay.example.com/",
        openaiBaseUrl: "https://x.openai.azure.com/openai/v1",
      }),
    ).toMatchObject({
      alarmEmail: "ops@example.com",
      publicUrl: "https://relay.example.com",
      openaiBaseUrl: "https://x.openai.azure.com/openai/v1",
    });
  });

  it.each([
    [{ stage: "production" }, /stage/],
    [{ retain: "yes" }, /retain/],
    [{ alarmEmail: "not-an-email" }, /alarmEmail/],
    [{ publicUrl: "http://relay.example.com" }, /https/],
    [{ openaiBaseUrl: "not a url" }, /openaiBaseUrl/],
    [{ stage: 7 }, /stage/],
    [{ pollerReservedConcurrency: "0" }, /pollerReservedConcurrency/],
    [{ pollerReservedConcurrency: "two" }, /pollerReservedConcurrency/],
    [{ streamCorsOrigins: "*" }, /streamCorsOrigins/],
    [{ streamCorsOrigins: "http://app.example.com" }, /streamCorsOrigins/],
  ])("rejects %j", (ctx, message) => {
    expect(() => parse(ctx)).toThrow(ContextError);
    expect(() => parse(ctx)).toThrow(message);
  });
});

describe("stream function", () => {
  it("serves SSE through a RESPONSE_STREAM function URL, with Lambda's longest timeout", () => {
    const [streamId, f] = fn(branches.dev, "StreamFunction");
    expect(f.Properties.Timeout).toBe(900);
    const urls = Object.values(branches.dev.json.Resources as Record<string, Json>).filter(
      (r) => r.Type === "AWS::Lambda::Url",
    );
    expect(urls).toHaveLength(1);
    expect(urls[0]!.Properties).toMatchObject({
      InvokeMode: "RESPONSE_STREAM",
      AuthType: "NONE",
      TargetFunctionArn: { "Fn::GetAtt": [streamId, "Arn"] },
    });
    expect(branches.dev.json.Outputs.StreamUrl.Value).toEqual({ "Fn::GetAtt": [expect.any(String), "FunctionUrl"] });
  });

  it("in regions without function URLs the stack deploys without the URL and its output", () => {
    const { json } = branches.dev;
    const condition = json.Conditions.FunctionUrlsAvailable;
    const regions = JSON.stringify(condition)
      .match(/"[a-z]{2}-[a-z]+-\d"/g)!
      .map((r) => JSON.parse(r));
    expect(regions.sort()).toEqual([...REGIONS_WITHOUT_FUNCTION_URLS].sort());
    expect(condition["Fn::Not"]).toBeDefined();
    const [, url] = resourcesOfType(json, "AWS::Lambda::Url")[0]!;
    expect(url.Condition).toBe("FunctionUrlsAvailable");
    expect(json.Outputs.StreamUrl.Condition).toBe("FunctionUrlsAvailable");
  });

  it("CORS only when origins are named: none in dev, exactly the given origin in prod", () => {
    const [, devUrl] = resourcesOfType(branches.dev.json, "AWS::Lambda::Url")[0]!;
    expect(devUrl.Properties.Cors).toBeUndefined();
    const [, prodUrl] = resourcesOfType(branches.prod.json, "AWS::Lambda::Url")[0]!;
    expect(prodUrl.Properties.Cors).toMatchObject({
      AllowOrigins: ["https://app.example.com"],
      AllowMethods: ["GET", "POST"],
      AllowHeaders: expect.arrayContaining(["authorization", "last-event-id"]),
    });
    expect(prodUrl.Properties.Cors.AllowCredentials).toBeUndefined();
  });
});

describe("dashboard", () => {
  it("one dashboard per stage with the alarms and every custom metric", () => {
    for (const s of [branches.dev, branches.prod]) {
      const dashboards = resourcesOfType(s.json, "AWS::CloudWatch::Dashboard");
      expect(dashboards).toHaveLength(1);
      const body = JSON.stringify(dashboards[0]![1].Properties.DashboardBody);
      for (const name of [
        RELAY_METRICS.oldestPendingJobAge,
        RELAY_METRICS.upstreamCalls,
        RELAY_METRICS.upstreamErrors,
        RELAY_METRICS.ambiguousCreates,
        RELAY_METRICS.webhookBacklog,
        RELAY_METRICS.webhookDeliveriesExhausted,
        RELAY_METRICS.secretInvalid,
      ])
        expect(body).toContain(name);
      expect(body).toContain("alarm");
    }
  });
});
