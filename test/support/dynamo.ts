import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { createDynamoClients } from "#shared/store/dynamo-client.ts";
import { ensureTable } from "#local/dynamodb-local.ts";

/** A fresh table in the run's DynamoDB Local, so test files never see each other's items. */
export async function createTestTable(prefix = "relay-test") {
  const endpoint = inject("dynamoEndpoint");
  const tableName = `${prefix}-${randomBytes(4).toString("hex")}`;
  const clients = createDynamoClients({ endpoint });
  await ensureTable(clients.client, tableName);
  return { endpoint, tableName, ...clients };
}
