import { App, Aspects, Tags } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { ContextError, parseRelayContext, type RelayContext } from "./context.ts";
import { RelayStack } from "./relay-stack.ts";

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

const stack = new RelayStack(app, `ResponsesRelay-${context.stage}`, {
  ...context,
  description: `responses-relay (${context.stage}): long OpenAI Responses API requests in background mode`,
});
// Not on the dashboard: cfn-lint's schema (and older CloudFormation) has no Tags for it.
const untaggable = { excludeResourceTypes: ["AWS::CloudWatch::Dashboard"] };
Tags.of(stack).add("service", "responses-relay", untaggable);
Tags.of(stack).add("stage", context.stage, untaggable);

// The same AwsSolutions checks the CDK test applies: an unsuppressed finding fails synth here too.
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
