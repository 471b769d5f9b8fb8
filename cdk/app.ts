import { App, Aspects, Tags } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { ContextError, parseRelayContext, type RelayContext } from "./context.ts";
import { readFileSync } from "node:fs";
import { parseUpstreams } from "#shared/upstreams-config.ts";
import { RelayStack, type RelayStackProps } from "./relay-stack.ts";

/**
 * Composition root: `npx cdk synth|deploy [-c stage=dev|prod] [-c retain=true|false]
 * [-c alarmEmail=…] [-c openaiBaseUrl=…] [-c publicUrl=…]`. Context is read and validated here
 * only. The stack is environment-agnostic (no account/region, no lookups), so synth runs offline;
 * deploy targets whatever account and region the AWS credentials in use point at.
 */
const app = new App();
let context: RelayContext;
try {
  context = parseRelayContext((key) => app.node.tryGetContext(key));
} catch (error) {
  if (!(error instanceof ContextError)) throw error;
  console.error(`responses-relay: ${error.message}`);
  process.exit(1);
}

/**
 * `-c upstreamsFile=upstreams.json`: several upstreams (README, "Several upstreams"), checked here
 * as the functions will check it at cold start. In AWS a key is a Secrets Manager ARN (or none):
 * the functions have no environment variable of the operator's to read it from.
 */
function upstreamsFromContext(): RelayStackProps["upstreams"] {
  const file = app.node.tryGetContext("upstreamsFile");
  if (file === undefined) return undefined;
  try {
    const json = readFileSync(String(file), "utf8");
    const raw = JSON.parse(json) as { upstreams?: Record<string, { key?: { env?: string } }> };
    for (const [name, u] of Object.entries(raw.upstreams ?? {}))
      if (u?.key?.env)
        throw new ContextError(`upstreamsFile: upstreams.${name}.key.env cannot be read in AWS; use key.secretArn.`);
    const parsed = parseUpstreams(raw, {}, `upstreamsFile (${String(file)})`, "file");
    return {
      json: JSON.stringify(raw),
      secretArns: parsed.upstreams.flatMap((u) => (u.apiKeySecretArn ? [u.apiKeySecretArn] : [])),
      emulated: parsed.upstreams.some((u) => !u.background),
    };
  } catch (error) {
    if (error instanceof ContextError) throw error;
    throw new ContextError(`upstreamsFile: ${(error as Error).message}`);
  }
}

let upstreams: RelayStackProps["upstreams"];
try {
  upstreams = upstreamsFromContext();
} catch (error) {
  if (!(error instanceof ContextError)) throw error;
  console.error(`responses-relay: ${error.message}`);
  process.exit(1);
}

const stack = new RelayStack(app, `ResponsesRelay-${context.stage}`, {
  ...context,
  upstreams,
  description: `responses-relay (${context.stage}): long OpenAI Responses API requests in background mode`,
});
// Not on the dashboard: cfn-lint's schema (and older CloudFormation) has no Tags for it.
const untaggable = { excludeResourceTypes: ["AWS::CloudWatch::Dashboard"] };
Tags.of(stack).add("service", "responses-relay", untaggable);
Tags.of(stack).add("stage", context.stage, untaggable);

// The same AwsSolutions checks the CDK test applies: an unsuppressed finding fails synth here too.
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
