import type { RemovalPolicy } from "aws-cdk-lib";
import { type CfnSecret, Secret } from "aws-cdk-lib/aws-secretsmanager";
import { NagSuppressions } from "cdk-nag";
import type { Construct } from "constructs";

export interface OperatorSecretProps {
  description: string;
  removalPolicy: RemovalPolicy;
}

/**
 * A secret the operator fills in after the first deploy (`aws secretsmanager put-secret-value`).
 * CDK's Secret generates a random value unless told otherwise; a random string would look like a
 * real OpenAI key until the first upstream 401. Without GenerateSecretString and SecretString,
 * CloudFormation creates the secret with no value, so reading it fails loudly at cold start
 * instead, and no value ever appears in the template.
 */
export class OperatorSecret extends Secret {
  constructor(scope: Construct, id: string, props: OperatorSecretProps) {
    super(scope, id, { description: props.description, removalPolicy: props.removalPolicy });
    (this.node.defaultChild as CfnSecret).addPropertyDeletionOverride("GenerateSecretString");
    NagSuppressions.addResourceSuppressions(this, [
      {
        id: "AwsSolutions-SMG4",
        reason:
          "A third-party credential issued by OpenAI: a new value can only be created in OpenAI's dashboard, so a " +
          "rotation Lambda has nothing to call. Rotate by hand with put-secret-value; functions read it at cold start.",
      },
    ]);
  }
}
