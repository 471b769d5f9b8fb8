import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { DeliveryAttempt, DeliveryLog } from "#shared/ports.ts";
import { DELIVERY_PREFIX, deliverySk, jobPk } from "./keys.ts";

/** Webhook attempts as items beside their job (`JOB#<id>` / `DLV#<attempt>`), kept as long as the job. */
export class DynamoDeliveryLog implements DeliveryLog {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionSeconds: number;
  constructor(options: { doc: DynamoDBDocumentClient; tableName: string; retentionDays?: number }) {
    this.#doc = options.doc;
    this.#table = options.tableName;
    this.#retentionSeconds = (options.retentionDays ?? 30) * 86_400;
  }

  async record(jobId: string, attempt: DeliveryAttempt): Promise<void> {
    await this.#doc.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          pk: jobPk(jobId),
          sk: deliverySk(attempt.attempt),
          ...attempt,
          expiresAt: Math.floor(attempt.at / 1000) + this.#retentionSeconds,
        },
      }),
    );
  }

  async list(jobId: string): Promise<DeliveryAttempt[]> {
    const { Items = [] } = await this.#doc.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :dlv)",
        ExpressionAttributeValues: { ":pk": jobPk(jobId), ":dlv": DELIVERY_PREFIX },
        ConsistentRead: true,
      }),
    );
    return Items.map(({ pk: _pk, sk: _sk, expiresAt: _e, ...attempt }) => attempt as DeliveryAttempt);
  }
}
