import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

export interface DynamoClientOptions {
  /** DynamoDB Local (or any other endpoint); unset in AWS. */
  endpoint?: string;
  region?: string;
}

/**
 * One DynamoDB client per process (built at cold start, reused across invocations).
 * Against a local endpoint the credentials are dummies: DynamoDB Local accepts any.
 */
export function createDynamoClients(options: DynamoClientOptions = {}) {
  const client = new DynamoDBClient({
    region: options.region ?? process.env.AWS_REGION ?? "us-east-1",
    ...(options.endpoint
      ? { endpoint: options.endpoint, credentials: { accessKeyId: "local", secretAccessKey: "local" } }
      : {}),
    // The SDK's standard retry mode already backs off on throttling; three attempts keep a hot
    // path (submit, status) from hanging on a struggling table.
    maxAttempts: 3,
  });
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return { client, doc };
}
