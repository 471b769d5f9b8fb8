import type { TestProject } from "vitest/node";
import { startDynamoDbLocal } from "#local/dynamodb-local.ts";

type DynamoDbLocal = Awaited<ReturnType<typeof startDynamoDbLocal>>;
/**
 * Vitest runs a global setup once per project that lists it (integration and drills both do),
 * all in its main process. They share one DynamoDB Local through this process-wide slot, so a
 * full `npm test` starts one JVM, not two; the last project to finish stops it.
 */
const slot = globalThis as typeof globalThis & {
  relayDynamoDbLocal?: { started: Promise<DynamoDbLocal>; users: number };
};

/** One DynamoDB Local for the whole run; each test file creates its own table in it. */
export default async function setup(project: TestProject) {
  slot.relayDynamoDbLocal ??= { started: startDynamoDbLocal(), users: 0 };
  const shared = slot.relayDynamoDbLocal;
  shared.users++;
  const dynamo = await shared.started;
  project.provide("dynamoEndpoint", dynamo.endpoint);
  return async () => {
    if (--shared.users > 0) return;
    slot.relayDynamoDbLocal = undefined;
    await dynamo.stop();
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}
