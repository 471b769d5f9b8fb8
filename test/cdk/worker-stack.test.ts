/**
 * The stack with an upstream without background mode: the worker function that runs such jobs,
 * its 15-minute limit, and who may start it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Aspects } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RelayStack, WORKER_MAX_SECONDS } from "#cdk/relay-stack.ts";

const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:llama-key-AbCdEf";
const upstreams = {
  upstreams: {
    openai: { baseUrl: "https://api.openai.com/v1", background: true, key: { secretArn: SECRET } },
    llama: {
      baseUrl: "https://llama.internal.example.com/v1",
      api: "chat_completions",
      background: false,
      key: { secretArn: SECRET },
    },
  },
  models: [{ prefix: "llama", upstream: "llama" }],
  defaultUpstream: "openai",
};

let outdir: string;
let json: any;
let annotations: Annotations;
beforeAll(async () => {
  outdir = await mkdtemp(join(tmpdir(), "relay-cdk-worker-"));
  const app = new App({ outdir, context: { "aws:cdk:enable-path-metadata": true } });
  const stack = new RelayStack(app, "RelayWorkerTest", {
    stage: "dev",
    retain: false,
    upstreams: { json: JSON.stringify(upstreams), secretArns: [SECRET], emulated: true },
  });
  Aspects.of(stack).add(new AwsSolutionsChecks({ verbose: true }));
  json = Template.fromStack(stack).toJSON();
  annotations = Annotations.fromStack(stack);
}, 300_000);
afterAll(() => rm(outdir, { recursive: true, force: true }));

const functions = () =>
  Object.entries(json.Resources).filter(([, r]: [string, any]) => r.Type === "AWS::Lambda::Function") as [
    string,
    any,
  ][];
const named = (part: string) => functions().find(([id]) => id.startsWith(part))!;

describe("the worker function", () => {
  it("runs up to Lambda's 15 minutes, is never retried by Lambda, and every function bounds emulated jobs below that", () => {
    const [workerId, worker] = named("WorkerFunction");
    expect(worker.Properties.Timeout).toBe(900);
    expect(WORKER_MAX_SECONDS).toBeLessThan(900);
    for (const [, fn] of functions())
      expect(fn.Properties.Environment.Variables.RELAY_WORKER_MAX_SECONDS).toBe(String(WORKER_MAX_SECONDS));
    const invokeConfig = Object.values(json.Resources).find(
      (r: any) => r.Type === "AWS::Lambda::EventInvokeConfig" && r.Properties.FunctionName.Ref === workerId,
    ) as any;
    expect(invokeConfig.Properties.MaximumRetryAttempts).toBe(0);
  });

  it("is started by the HTTP, stream and poller functions, which alone may invoke it", () => {
    const [workerId] = named("WorkerFunction");
    for (const part of ["HttpApiFunction", "PollerFunction", "StreamFunction"]) {
      const [, fn] = named(part);
      expect(fn.Properties.Environment.Variables.RELAY_WORKER_FUNCTION, part).toEqual({ Ref: workerId });
    }
    const invokers = Object.values(json.Resources)
      .filter((r: any) => r.Type === "AWS::IAM::Policy")
      .filter((p: any) =>
        p.Properties.PolicyDocument.Statement.some((s: any) =>
          JSON.stringify(s.Action).includes("lambda:InvokeFunction"),
        ),
      );
    expect(invokers).toHaveLength(3);
  });

  it("passes the upstreams document and reads the upstream keys by ARN, never by value", () => {
    const [, worker] = named("WorkerFunction");
    expect(JSON.parse(worker.Properties.Environment.Variables.RELAY_UPSTREAMS)).toEqual(upstreams);
    const policies = JSON.stringify(json.Resources);
    expect(policies).toContain(SECRET);
  });

  it("passes the AwsSolutions checks", () => {
    const errors = annotations.findError("*", Match.stringLikeRegexp("AwsSolutions-.*"));
    expect(errors.map((e) => `${e.id}: ${String(e.entry.data).slice(0, 200)}`)).toEqual([]);
  });
});
