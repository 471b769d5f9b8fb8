import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Inbox } from "#shared/ports.ts";
import { inboxKey, PUSH_HEARD_KEY } from "./keys.ts";

/** A process writes "heard" at most this often, and trusts what it read for this long. */
const HEARD_WRITE_EVERY_MS = 60_000;
const HEARD_READ_FOR_MS = 10_000;

/**
 * Seen-ids for incoming webhooks (`INBOX#<id>`), claimed with one conditional put; and when the
 * last verified one arrived (`PUSH#openai`), which every poller reads to choose its schedule.
 */
export class DynamoInbox implements Inbox {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  #wroteHeardAt = Number.NEGATIVE_INFINITY;
  #read: { at: number; value: number | null } | null = null;

  constructor(options: { doc: DynamoDBDocumentClient; tableName: string }) {
    this.#doc = options.doc;
    this.#table = options.tableName;
  }

  async claim(id: string, expiresAtSeconds: number): Promise<boolean> {
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: { ...inboxKey(id), expiresAt: expiresAtSeconds },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async seen(id: string): Promise<boolean> {
    const found = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: inboxKey(id), ConsistentRead: true }),
    );
    return found.Item !== undefined;
  }

  async heard(now: number): Promise<void> {
    this.#read = { at: now, value: Math.max(now, this.#read?.value ?? now) };
    if (now - this.#wroteHeardAt < HEARD_WRITE_EVERY_MS) return;
    this.#wroteHeardAt = now;
    // Only ever forward: two processes writing at once keep the later time.
    await this.#doc
      .send(
        new UpdateCommand({
          TableName: this.#table,
          Key: PUSH_HEARD_KEY,
          UpdateExpression: "SET heardAt = :now",
          ConditionExpression: "attribute_not_exists(heardAt) OR heardAt < :now",
          ExpressionAttributeValues: { ":now": now },
        }),
      )
      .catch((error) => {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
  }

  async lastHeard(now: number): Promise<number | null> {
    if (this.#read && now - this.#read.at < HEARD_READ_FOR_MS && now >= this.#read.at) return this.#read.value;
    const found = await this.#doc.send(new GetCommand({ TableName: this.#table, Key: PUSH_HEARD_KEY }));
    const value = typeof found.Item?.heardAt === "number" ? found.Item.heardAt : null;
    this.#read = { at: now, value };
    return value;
  }
}
