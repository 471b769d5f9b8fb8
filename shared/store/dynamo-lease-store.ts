import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { LeaseHandover, LeaseStore } from "#shared/ports.ts";
import { leaseKey } from "./keys.ts";

/**
 * Short leases on shards of the due index, so overlapping poller invocations split the work
 * instead of polling the same jobs twice. Leases save upstream calls; correctness never depends
 * on them (every job write is still fenced by the job's version).
 */
export class DynamoLeaseStore implements LeaseStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  constructor(options: { doc: DynamoDBDocumentClient; tableName: string }) {
    this.#doc = options.doc;
    this.#table = options.tableName;
  }

  async acquire(
    name: string,
    owner: string,
    untilMs: number,
    nowMs: number,
    handover?: LeaseHandover,
  ): Promise<boolean> {
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...leaseKey(name),
            owner,
            until: untilMs,
            expiresAt: Math.floor(untilMs / 1000) + 86_400,
            ...(handover && Object.keys(handover).length ? { handover } : {}),
          },
          ConditionExpression: "attribute_not_exists(pk) OR #owner = :owner OR #until < :now",
          ExpressionAttributeNames: { "#owner": "owner", "#until": "until" },
          ExpressionAttributeValues: { ":owner": owner, ":now": nowMs },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async release(name: string, owner: string): Promise<void> {
    try {
      await this.#doc.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: leaseKey(name),
          ConditionExpression: "#owner = :owner",
          ExpressionAttributeNames: { "#owner": "owner" },
          ExpressionAttributeValues: { ":owner": owner },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async lastHeldUntil(name: string): Promise<number | null> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: `LEASE#${name}`, sk: "LEASE" },
        ProjectionExpression: "#until",
        ExpressionAttributeNames: { "#until": "until" },
      }),
    );
    return typeof Item?.until === "number" ? Item.until : null;
  }

  async lastHeld(name: string): Promise<{ until: number; handover: LeaseHandover } | null> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: leaseKey(name),
        ProjectionExpression: "#until, handover",
        ExpressionAttributeNames: { "#until": "until" },
      }),
    );
    if (typeof Item?.until !== "number") return null;
    return { until: Item.until, handover: (Item.handover as LeaseHandover | undefined) ?? {} };
  }
}
