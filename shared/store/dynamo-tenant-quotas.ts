import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { SlotKind } from "#shared/domain/tenant-limits.ts";
import type { MonthSpend, SlotGrant, TenantQuotas } from "#shared/ports.ts";
import { rateKey, slotsKey, spendKey } from "./keys.ts";
import { RequestTokens, WINDOW_MS, type Reservation } from "./request-tokens.ts";

/** Expired slots removed per write at most (keeps the update expression small). */
const PRUNE_BATCH = 40;

/**
 * Per-tenant counters in the table, correct across instances because every change is one
 * conditional write: a request counter per tenant and minute, to which each process adds tokens in
 * batches it then spends locally (ADD under `n <= limit - k`, request-tokens.ts), and for
 * counted things (pending jobs, streams, blocking waits) a map of held slots with expiry times,
 * taken under `size(slots) < limit`. A slot whose holder died expires instead of leaking: the
 * next taker that finds the map full removes expired entries and tries again.
 */
export class DynamoTenantQuotas implements TenantQuotas {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #requests: RequestTokens;

  constructor(options: { doc: DynamoDBDocumentClient; tableName: string }) {
    this.#doc = options.doc;
    this.#table = options.tableName;
    this.#requests = new RequestTokens((...args) => this.#reserveRequests(...args));
  }

  takeRequest(tenantId: string, limit: number, nowMs: number) {
    return this.#requests.take(tenantId, limit, nowMs);
  }

  /**
   * Adds up to `want` to the tenant's minute counter, never past `limit`: `ADD n :k` under
   * `n <= limit - k`; when fewer than `want` are left, the failed condition returns the counter
   * and what is left is asked for instead.
   */
  async #reserveRequests(tenantId: string, windowStart: number, want: number, limit: number): Promise<Reservation> {
    let k = Math.min(want, limit);
    for (let attempt = 0; k > 0 && attempt < 4; attempt++) {
      try {
        const { Attributes } = await this.#doc.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: rateKey(tenantId, windowStart),
            UpdateExpression: "ADD n :k SET expiresAt = if_not_exists(expiresAt, :exp)",
            ConditionExpression: "attribute_not_exists(n) OR n <= :most",
            ExpressionAttributeValues: {
              ":k": k,
              ":most": limit - k,
              ":exp": Math.floor((windowStart + WINDOW_MS) / 1000) + 86_400,
            },
            ReturnValues: "UPDATED_NEW",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        return { got: k, count: Number(Attributes?.n ?? k) };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const count = Number(error.Item?.n?.N ?? limit);
        if (count >= limit) return { got: 0, count };
        k = Math.min(k, limit - count);
      }
    }
    // Lost every race for the last few tokens to other processes: the minute is as good as full.
    return { got: 0, count: limit };
  }

  async acquireSlot(
    tenantId: string,
    kind: SlotKind,
    id: string,
    limit: number,
    nowMs: number,
    untilMs: number,
  ): Promise<SlotGrant> {
    const key = slotsKey(tenantId, kind);
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        const { Attributes } = await this.#doc.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: key,
            UpdateExpression: "SET #slots.#id = :until",
            ConditionExpression: "attribute_exists(#slots) AND (size(#slots) < :limit OR attribute_exists(#slots.#id))",
            ExpressionAttributeNames: { "#slots": "slots", "#id": id },
            ExpressionAttributeValues: { ":until": untilMs, ":limit": limit },
            ReturnValues: "ALL_NEW",
          }),
        );
        return { granted: true, inUse: Object.keys((Attributes?.slots as object | undefined) ?? {}).length };
      } catch (error) {
        // A job's ending transaction holds the item for a moment: try again.
        if ((error as Error).name === "TransactionConflictException") {
          await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
          continue;
        }
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      const { Item } = await this.#doc.send(new GetCommand({ TableName: this.#table, Key: key, ConsistentRead: true }));
      const slots = (Item?.slots as Record<string, number> | undefined) ?? null;
      if (!slots) {
        // First slot of this kind for the tenant: create the map (a racing creator wins; try again).
        // The item may exist without it: a release (REMOVE) on a missing item creates the key alone.
        try {
          if (Item)
            await this.#doc.send(
              new UpdateCommand({
                TableName: this.#table,
                Key: key,
                UpdateExpression: "SET #slots = :slots",
                ConditionExpression: "attribute_not_exists(#slots)",
                ExpressionAttributeNames: { "#slots": "slots" },
                ExpressionAttributeValues: { ":slots": { [id]: untilMs } },
              }),
            );
          else
            await this.#doc.send(
              new PutCommand({
                TableName: this.#table,
                Item: { ...key, slots: { [id]: untilMs } },
                ConditionExpression: "attribute_not_exists(pk)",
              }),
            );
          return { granted: true, inUse: 1 };
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
          continue;
        }
      }
      const expired = Object.entries(slots).filter(([, until]) => until <= nowMs);
      if (expired.length === 0 && Object.keys(slots).length >= limit)
        return { granted: false, inUse: Object.keys(slots).length };
      if (expired.length > 0) await this.#prune(key, expired.slice(0, PRUNE_BATCH));
    }
    // Lost every race to other takers: the tenant is at its limit in practice.
    return { granted: false, inUse: limit };
  }

  /** Removes expired slots, each only if still at the expiry read (a renewed one stays). */
  async #prune(key: { pk: string; sk: string }, expired: [string, number][]): Promise<void> {
    const names: Record<string, string> = { "#slots": "slots" };
    const values: Record<string, number> = {};
    const conditions: string[] = [];
    expired.forEach(([slot, until], i) => {
      names[`#s${i}`] = slot;
      values[`:u${i}`] = until;
      conditions.push(`#slots.#s${i} = :u${i}`);
    });
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: key,
          UpdateExpression: `REMOVE ${expired.map((_, i) => `#slots.#s${i}`).join(", ")}`,
          ConditionExpression: conditions.join(" AND "),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async renewSlot(tenantId: string, kind: SlotKind, id: string, untilMs: number): Promise<void> {
    await this.#doc
      .send(
        new UpdateCommand({
          TableName: this.#table,
          Key: slotsKey(tenantId, kind),
          UpdateExpression: "SET #slots.#id = :until",
          ConditionExpression: "attribute_exists(#slots.#id)",
          ExpressionAttributeNames: { "#slots": "slots", "#id": id },
          ExpressionAttributeValues: { ":until": untilMs },
        }),
      )
      .catch((error) => {
        // Pruned after all (this holder was frozen past its expiry): it simply holds no slot now.
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
  }

  async releaseSlot(tenantId: string, kind: SlotKind, id: string): Promise<void> {
    await this.#doc
      .send(
        new UpdateCommand({
          TableName: this.#table,
          Key: slotsKey(tenantId, kind),
          UpdateExpression: "REMOVE #slots.#id",
          ConditionExpression: "attribute_exists(#slots)",
          ExpressionAttributeNames: { "#slots": "slots", "#id": id },
        }),
      )
      .catch((error) => {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
  }

  async spend(tenantId: string, month: string): Promise<MonthSpend> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: spendKey(tenantId, month), ConsistentRead: true }),
    );
    const n = (name: string) => Number(Item?.[name] ?? 0);
    return {
      month,
      costMicros: n("costMicros"),
      pricedJobs: n("pricedJobs"),
      unpricedJobs: n("unpricedJobs"),
      unpricedInputTokens: n("unpricedInputTokens"),
      unpricedOutputTokens: n("unpricedOutputTokens"),
    };
  }
}
