import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { DescribeTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type Shard,
} from "@aws-sdk/client-dynamodb-streams";
import { type ChangeRecord, lifecycleEventsOf } from "#shared/events/lifecycle-outbox.ts";
import type { Log } from "#shared/log.ts";
import type { EventPublisher } from "#shared/ports.ts";

/** Where a reader got to in each shard: the last sequence number whose events were published. */
export interface Checkpoints {
  load(): Record<string, string>;
  save(positions: Record<string, string>): void;
}

/** Checkpoints in a JSON file (the local stack keeps it in its data folder). */
export function fileCheckpoints(file: string): Checkpoints {
  return {
    load: () => (existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, string>) : {}),
    save: (positions) => writeFileSync(file, JSON.stringify(positions)),
  };
}

export interface StreamOutboxOptions {
  dynamo: DynamoDBClient;
  streams: DynamoDBStreamsClient;
  tableName: string;
  publisher: EventPublisher;
  checkpoints?: Checkpoints;
  log?: Log;
}

/**
 * The local stack's stand-in for the AWS stream-handler Lambda (functions/lifecycle-outbox.ts):
 * reads DynamoDB Local's own stream of the table, shard by shard, publishes the lifecycle events
 * it carries, and only then moves its checkpoint. A crash between the two publishes those events
 * again on the next start, with the same `eventId`: at least once, never lost.
 */
export class StreamOutbox {
  readonly #o: StreamOutboxOptions;
  readonly #positions: Record<string, string>;
  readonly #iterators = new Map<string, string | null>();
  #streamArn: string | undefined;

  constructor(options: StreamOutboxOptions) {
    this.#o = options;
    this.#positions = options.checkpoints?.load() ?? {};
  }

  /** One pass over every open shard; resolves to the number of events published. */
  async pollOnce(): Promise<number> {
    this.#streamArn ??= (
      await this.#o.dynamo.send(new DescribeTableCommand({ TableName: this.#o.tableName }))
    ).Table?.LatestStreamArn;
    if (!this.#streamArn) throw new Error(`table ${this.#o.tableName} has no stream`);
    const shards = await this.#shards();
    let published = 0;
    for (const shard of shards) {
      const id = shard.ShardId!;
      // A child shard is read once its parent is drained, so a job's changes stay in order.
      if (
        shard.ParentShardId &&
        this.#iterators.get(shard.ParentShardId) !== null &&
        shards.some((s) => s.ShardId === shard.ParentShardId)
      )
        continue;
      if (this.#iterators.get(id) === null) continue;
      let iterator: string | null | undefined = this.#iterators.get(id) ?? (await this.#iteratorFor(id));
      for (let page = 0; iterator && page < 20; page++) {
        const result: GetRecordsCommandOutput = await this.#o.streams.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }),
        );
        const records = result.Records ?? [];
        const events = lifecycleEventsOf(records as ChangeRecord[]);
        if (events.length) await this.#o.publisher.publish(events);
        published += events.length;
        const last = records.at(-1)?.dynamodb?.SequenceNumber;
        if (last) {
          this.#positions[id] = last;
          this.#o.checkpoints?.save(this.#positions);
        }
        iterator = result.NextShardIterator ?? null;
        if (records.length === 0) break;
      }
      this.#iterators.set(id, iterator ?? null);
    }
    return published;
  }

  /** Polls until the signal aborts; a failed pass is logged and retried from the checkpoint. */
  async run(signal: AbortSignal, intervalMs = 500): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.pollOnce();
      } catch (error) {
        this.#iterators.clear();
        if (!signal.aborted)
          this.#o.log?.({ level: "error", msg: "outbox pass failed", error: (error as Error).message });
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  async #shards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let start: string | undefined;
    do {
      const { StreamDescription } = await this.#o.streams.send(
        new DescribeStreamCommand({ StreamArn: this.#streamArn, ExclusiveStartShardId: start }),
      );
      shards.push(...(StreamDescription?.Shards ?? []));
      start = StreamDescription?.LastEvaluatedShardId;
    } while (start);
    return shards;
  }

  async #iteratorFor(shardId: string): Promise<string | undefined> {
    const after = this.#positions[shardId];
    const { ShardIterator } = await this.#o.streams.send(
      new GetShardIteratorCommand({
        StreamArn: this.#streamArn,
        ShardId: shardId,
        ...(after
          ? { ShardIteratorType: "AFTER_SEQUENCE_NUMBER", SequenceNumber: after }
          : { ShardIteratorType: "TRIM_HORIZON" }),
      }),
    );
    return ShardIterator;
  }
}
