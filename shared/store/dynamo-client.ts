import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/** Sums the capacity units DynamoDB reports, per operation kind (for the benchmark). */
export class CapacityMeter {
  readUnits = 0;
  writeUnits = 0;
  requests = 0;
  reset(): void {
    this.readUnits = 0;
    this.writeUnits = 0;
    this.requests = 0;
  }
}

const WRITE_COMMANDS = new Set([
  "PutItemCommand",
  "UpdateItemCommand",
  "DeleteItemCommand",
  "BatchWriteItemCommand",
  "TransactWriteItemsCommand",
]);

export interface DynamoClientOptions {
  /** When given, every request asks for ConsumedCapacity and the units are added here. */
  meter?: CapacityMeter;
  /** DynamoDB Local (or any other endpoint); unset in AWS. */
  endpoint?: string;
  region?: string;
  /** Wraps the SDK client (X-Ray subsegments per call in AWS: functions/tracing.ts). */
  instrument?: <T extends object>(client: T) => T;
}

/**
 * One DynamoDB client per process (built at cold start, reused across invocations).
 * Against a local endpoint the credentials are dummies: DynamoDB Local accepts any.
 */
export function createDynamoClients(options: DynamoClientOptions = {}) {
  const client = new DynamoDBClient({
    // DynamoDB Local ignores the region but the SDK wants one; against AWS the SDK's own chain
    // (AWS_REGION, the profile's region) decides.
    region: options.region ?? (options.endpoint ? (process.env.AWS_REGION ?? "us-east-1") : undefined),
    ...(options.endpoint
      ? { endpoint: options.endpoint, credentials: { accessKeyId: "local", secretAccessKey: "local" } }
      : {}),
    // The SDK's standard retry mode already backs off on throttling; three attempts keep a hot
    // path (submit, status) from hanging on a struggling table.
    maxAttempts: 3,
  });
  if (options.meter) attachMeter(client, options.meter);
  options.instrument?.(client);
  const doc = DynamoDBDocumentClient.from(client, {
    // The marshaller tells a plain object from a class instance by its `constructor` property, so
    // caller metadata with a key named `constructor` would be refused as a class: map them all.
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
  });
  return { client, doc };
}

function attachMeter(client: DynamoDBClient, meter: CapacityMeter): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      input.ReturnConsumedCapacity ??= "TOTAL";
      const result = await next(args);
      const consumed = (
        result.output as { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] }
      ).ConsumedCapacity;
      const units = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []).reduce(
        (sum, c) => sum + (c.CapacityUnits ?? 0),
        0,
      );
      meter.requests++;
      if (WRITE_COMMANDS.has(context.commandName ?? "")) meter.writeUnits += units;
      else meter.readUnits += units;
      return result;
    },
    { step: "initialize", name: "relayCapacityMeter" },
  );
}
