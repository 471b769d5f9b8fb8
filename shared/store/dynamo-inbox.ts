import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Inbox } from "#shared/ports.ts";
import { inboxKey } from "./keys.ts";

/** Seen-ids for incoming webhooks (`INBOX#<id>`), claimed with one conditional put. */
export class DynamoInbox implements Inbox {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
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
}
