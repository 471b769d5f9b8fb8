import { spawn } from "node:child_process";
import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from "@aws-sdk/client-dynamodb-streams";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type { DynamoDBStreamEvent } from "aws-lambda";
import { outboxHandler } from "#functions/lifecycle-outbox.ts";
import { EventBridgePublisher } from "#shared/events/eventbridge-publisher.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newJobId } from "#shared/ids.ts";
import type { LifecycleEvent } from "#shared/ports.ts";
import { type Checkpoints, StreamOutbox } from "#local/stream-outbox.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";

/**
 * Lifecycle events through the outbox: DynamoDB Local's own stream of the table, read by the same
 * code the local stack runs. Nothing publishes after a write any more, so nothing is lost when the
 * writer dies; a reader that dies after publishing and before its checkpoint publishes again with
 * the same eventId.
 */

let relay: RelayHarness;
let streams: DynamoDBStreamsClient;
beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 2000 }, stream: true });
  streams = new DynamoDBStreamsClient({
    endpoint: relay.table.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
});
afterAll(async () => {
  streams.destroy();
  await relay.close();
});

const memoryCheckpoints = (): Checkpoints & { positions: Record<string, string> } => {
  const store = { positions: {} as Record<string, string> };
  return { ...store, load: () => ({ ...store.positions }), save: (p) => void (store.positions = { ...p }) };
};

function outbox(received: LifecycleEvent[], checkpoints?: Checkpoints) {
  return new StreamOutbox({
    dynamo: relay.table.client,
    streams,
    tableName: relay.table.tableName,
    publisher: { publish: async (events) => void received.push(...events) },
    checkpoints,
  });
}

async function drain(reader: StreamOutbox, until: () => boolean) {
  for (let i = 0; i < 40 && !until(); i++) {
    await reader.pollOnce();
    if (!until()) await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("lifecycle events through the table's stream", () => {
  it("arrive for a write whose process was SIGKILLed before it could publish", async () => {
    const id = newJobId(Date.now());
    const child = spawn(process.execPath, ["--import", "tsx", "test/events/write-then-die.ts"], {
      env: { ...process.env, DIE_DYNAMO: relay.table.endpoint, DIE_TABLE: relay.table.tableName, DIE_JOB: id },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout!.on("data", (chunk) => (out += chunk));
    const signal = await new Promise((resolve) => child.once("exit", (_code, sig) => resolve(sig)));
    expect(signal).toBe("SIGKILL");
    expect(out).toContain("written");

    const received: LifecycleEvent[] = [];
    const reader = outbox(received);
    const mine = () => received.filter((e) => e.jobId === id);
    await drain(reader, () => mine().length >= 2);
    expect(mine().map((e) => [e.eventId, e.previousStatus, e.status])).toEqual([
      [`${id}:1`, null, "queued"],
      [`${id}:2`, "queued", "in_progress"],
    ]);
  });

  it("carry each transition of a real job once, in order, with the cost at the end", async () => {
    const res = await relay.call("POST", "/v1/responses", { model: "gpt-5-pro", input: "events", background: true });
    await relay.settle(res.body.id);
    const received: LifecycleEvent[] = [];
    const reader = outbox(received);
    const mine = () => received.filter((e) => e.jobId === res.body.id);
    await drain(reader, () => mine().some((e) => e.status === "completed"));
    expect(mine().map((e) => [e.previousStatus, e.status])).toEqual([
      [null, "queued"],
      ["queued", "in_progress"],
      ["in_progress", "completed"],
    ]);
    expect(new Set(mine().map((e) => e.eventId)).size).toBe(3);
    expect(mine().at(-1)!.costUsd).toBeGreaterThan(0);
    expect(relay.events).toEqual([]); // and nothing was published from the write path
  });

  it("are published again, with the same ids, by a reader that died before its checkpoint", async () => {
    const res = await relay.call("POST", "/v1/responses", { model: "gpt-5-pro", input: "again", background: true });
    const checkpoints = memoryCheckpoints();
    const first: LifecycleEvent[] = [];
    const mine = (list: LifecycleEvent[]) => list.filter((e) => e.jobId === res.body.id);
    // The first reader publishes, then "dies": its checkpoint is never saved.
    const lost = { load: checkpoints.load, save: () => {} };
    await drain(outbox(first, lost), () => mine(first).length >= 1);
    const second: LifecycleEvent[] = [];
    await drain(outbox(second, checkpoints), () => mine(second).length >= 1);
    expect(mine(second).map((e) => e.eventId)).toEqual(mine(first).map((e) => e.eventId));
    // Deduped on eventId, the consumer sees each transition once.
    const seen = new Map([...first, ...second].map((e) => [e.eventId, e]));
    expect([...seen.values()].filter((e) => e.jobId === res.body.id).map((e) => e.status)).toEqual(["queued"]);
  });
});

/** Every record the table's stream holds so far, as Lambda's event source mapping would hand them over. */
async function streamEvent(): Promise<DynamoDBStreamEvent> {
  const { Table } = await relay.table.client.send(new DescribeTableCommand({ TableName: relay.table.tableName }));
  const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: Table!.LatestStreamArn }));
  const Records: unknown[] = [];
  for (const shard of StreamDescription!.Shards ?? []) {
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: Table!.LatestStreamArn,
        ShardId: shard.ShardId,
        ShardIteratorType: "TRIM_HORIZON",
      }),
    );
    Records.push(...((await streams.send(new GetRecordsCommand({ ShardIterator }))).Records ?? []));
  }
  return { Records } as DynamoDBStreamEvent;
}

describe("the stream-handler Lambda", () => {
  it("publishes a batch's events, and reports the batch failed when the bus cannot take them", async () => {
    const event = await streamEvent();
    expect(event.Records.length).toBeGreaterThan(0);
    const received: LifecycleEvent[] = [];
    const ok = await outboxHandler({ publish: async (events) => void received.push(...events) })(event);
    expect(ok.batchItemFailures).toEqual([]);
    expect(received.length).toBeGreaterThan(0);
    expect(received.every((e) => /^resp_\w+:\d+$/.test(e.eventId))).toBe(true);

    // A bus nobody listens on (connection refused): Lambda must deliver the batch again.
    const dead = new EventBridgeClient({
      region: "us-east-1",
      endpoint: "http://127.0.0.1:1",
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
      maxAttempts: 1,
    });
    const publisher = new EventBridgePublisher({ client: dead, busName: "b", attempts: 1, throwOnFailure: true });
    const failed = await outboxHandler(publisher)(event);
    expect(failed.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0]!.dynamodb!.SequenceNumber }]);
  });
});
