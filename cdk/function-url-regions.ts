import { CfnCondition, Fn, type Stack } from "aws-cdk-lib";

/**
 * Regions where Lambda function URLs (AWS::Lambda::Url) do not exist, so the stream function's
 * URL cannot be created there: cfn-lint's resource-type data for each region (rule E3006), as of
 * cfn-lint 1.51. Re-check with `cfn-lint --regions <region>` when AWS adds them.
 */
export const REGIONS_WITHOUT_FUNCTION_URLS = [
  "ap-east-2",
  "ap-south-2",
  "ap-southeast-4",
  "ap-southeast-5",
  "ap-southeast-6",
  "ap-southeast-7",
  "ca-west-1",
  "eu-central-2",
  "eu-south-2",
  "il-central-1",
  "me-central-1",
] as const;

/**
 * True where the stack is deployed in a region with function URLs. The stack is
 * environment-agnostic (synth knows no region), so the choice is made by CloudFormation at deploy
 * time: elsewhere the stack deploys without the streaming URL (and says so in its StreamUrl
 * output) instead of failing. Fn::Or takes at most 10 conditions, hence the two halves.
 */
export function functionUrlsAvailable(stack: Stack): CfnCondition {
  const equals = REGIONS_WITHOUT_FUNCTION_URLS.map((region) => Fn.conditionEquals(stack.region, region));
  const half = Math.ceil(equals.length / 2);
  return new CfnCondition(stack, "FunctionUrlsAvailable", {
    expression: Fn.conditionNot(
      Fn.conditionOr(Fn.conditionOr(...equals.slice(0, half)), Fn.conditionOr(...equals.slice(half))),
    ),
  });
}
