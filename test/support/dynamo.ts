import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { createDynamoClients } from "#shared/store/dynamo-client.ts";
import { ensureTable } from "#local/dynamodb-local.ts";

/**
 * A fresh table in the run's DynamoDB Local, so test files never see each other's items. Without
 * the change stream unless the test reads it (`stream: true`): streamed tables slow each other
 * down in DynamoDB Local (local/dynamodb-local.ts, `ensureTable`).
 */
export async function createTestTable(prefix = "relay-test", options: { stream?: boolean } = {}) {
  const endpoint = inject("dynamoEndpoint");
  const tableName = `${prefix}-${randomBytes(4).toString("hex")}`;
  const clients = createDynamoClients({ endpoint });
  await ensureTable(clients.client, tableName, { stream: options.stream ?? false });
  return { endpoint, tableName, ...clients };
}
