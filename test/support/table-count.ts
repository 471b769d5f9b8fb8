import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { RelayHarness } from "./relay.ts";

/**
 * Per-tenant meters, not state a request leaves behind: every authenticated request counts toward
 * its tenant's rate (RATE#, even a refused one: refusals are requests too), and a submit takes and
 * hands back a pending-job slot (SLOTS#). "Changes nothing" is about everything else.
 */
const METERS = {
  FilterExpression: "NOT begins_with(pk, :rate) AND NOT begins_with(pk, :slots)",
  ExpressionAttributeValues: { ":rate": "RATE#", ":slots": "SLOTS#" },
};

/** How many items the harness's table holds (every kind: jobs, chunks, claims, events; not meters). */
export async function countItems(relay: RelayHarness): Promise<number> {
  let count = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await relay.table.doc.send(
      new ScanCommand({
        TableName: relay.table.tableName,
        Select: "COUNT",
        ConsistentRead: true,
        ...METERS,
        ExclusiveStartKey: startKey,
      }),
    );
    count += page.Count ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return count;
}

/** The partition keys present in the harness's table: a new job, claim or orphan shows up as a new one. */
export async function partitionKeys(relay: RelayHarness): Promise<Set<string>> {
  const keys = new Set<string>();
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await relay.table.doc.send(
      new ScanCommand({
        TableName: relay.table.tableName,
        ProjectionExpression: "pk",
        ConsistentRead: true,
        ...METERS,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) keys.add(item.pk as string);
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return keys;
}
