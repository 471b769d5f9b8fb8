import { randomBytes } from "node:crypto";
import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import type { EventBatch, EventLog, StreamEvent } from "#shared/ports.ts";
import { DynamoEventLog } from "#shared/store/dynamo-event-store.ts";
import { LogWriter } from "#shared/streaming/log-writer.ts";
import { createTestTable } from "#test/support/dynamo.ts";
import { range } from "./support.ts";

let table: Awaited<ReturnType<typeof createTestTable>>;
let log: DynamoEventLog;
beforeAll(async () => {
  table = await createTestTable();
  log = new DynamoEventLog({ doc: table.doc, tableName: table.tableName });
});

const jobId = () => `resp_${randomBytes(8).toString("hex")}`;
const delta = (seq: number, text = `t${seq} `): StreamEvent => ({
  type: "response.output_text.delta",
  sequence_number: seq,
  item_id: "msg_1",
  output_index: 0,
  content_index: 0,
  delta: text,
  logprobs: [],
});
const batch = (first: number, count: number, end = false): EventBatch => ({
  first,
  events: range(first, count).map((seq) => delta(seq)),
  upstreamCursor: first + count - 1,
  end: end ? { status: "completed" } : null,
});

/** Everything stored, in order. */
async function readAll(id: string): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for (;;) {
    const batches = await log.read(id, out.length - 1);
    const fresh = batches.flatMap((b) => b.events).filter((e) => e.sequence_number >= out.length);
    if (fresh.length === 0) return out;
    out.push(...fresh);
  }
}

describe("the DynamoDB event log", () => {
  it("stores a batch only in a free slot, and reads from any cursor", async () => {
    const id = jobId();
    expect(await log.last(id)).toBeNull();
    expect(await log.append(id, batch(0, 3))).toBe(true);
    expect(await log.append(id, batch(0, 5))).toBe(false); // the slot is taken: nothing written
    expect(await log.append(id, batch(3, 3))).toBe(true);
    expect(await log.append(id, batch(6, 4, true))).toBe(true);

    expect((await log.last(id))!).toMatchObject({ first: 6, end: { status: "completed" }, upstreamCursor: 9 });
    expect((await readAll(id)).map((e) => e.sequence_number)).toEqual(range(0, 10));
    const firsts = async (after: number) => (await log.read(id, after)).map((b) => b.first);
    expect(await firsts(-1)).toEqual([0, 3, 6]);
    expect(await firsts(1)).toEqual([0, 3, 6]);
    expect(await firsts(2)).toEqual([3, 6]);
    expect(await firsts(5)).toEqual([6]);
    // At or past the end of a finished log: only the last batch, so the reader learns it ended.
    expect(await firsts(9)).toEqual([6]);
    expect(await firsts(50)).toEqual([6]);
    expect(await log.read(jobId(), -1)).toEqual([]);
  });

  it("puts a batch too large for one item into chunks, and reads it back exactly", async () => {
    const id = jobId();
    // Incompressible text: about 1.2 MB even after gzip.
    const big = randomBytes(900_000).toString("base64");
    const events = [delta(0, big), { type: "response.output_text.done", sequence_number: 1, text: big }];
    expect(await log.append(id, { first: 0, events, upstreamCursor: 1, end: null })).toBe(true);
    expect((await log.read(id, -1))[0]!.events).toEqual(events);
    const chunks = await table.doc.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues: { ":pk": `JOB#${id}`, ":p": "EVB#" },
      }),
    );
    expect(chunks.Items!.length).toBeGreaterThan(1);
  });
});

describe("two writers on one log", () => {
  const upstream = range(0, 60).map((seq) => delta(seq));
  const terminal: StreamEvent = {
    type: "response.completed",
    sequence_number: 60,
    response: { id: "resp_x", status: "completed", output: [] },
  };

  /** What a writer's upstream connection gives it: the events after the cursor it asks from. */
  async function feed(writer: LogWriter, events: StreamEvent[]) {
    await writer.init();
    for (const event of events.filter((e) => e.sequence_number > writer.upstreamHigh)) {
      await writer.add(event, event.sequence_number);
      if (Math.random() < 0.3) await new Promise((r) => setTimeout(r, Math.random() * 4));
    }
    await writer.flush();
  }

  /** The log, counting the appends that lost their slot (so the tests prove they raced). */
  const lost = { count: 0 };
  const counting = (): EventLog => ({
    last: (id) => log.last(id),
    read: (id, after) => log.read(id, after),
    append: async (id, b) => {
      const ok = await log.append(id, b);
      if (!ok) lost.count++;
      return ok;
    },
  });

  it("store every upstream event exactly once, in order, whoever wins each slot", async () => {
    lost.count = 0;
    for (let round = 0; round < 5; round++) {
      const id = jobId();
      const a = new LogWriter(counting(), id, { flushMs: 3, maxBatchEvents: 3, maxBatchBytes: 1e6 }, () => {});
      const b = new LogWriter(counting(), id, { flushMs: 5, maxBatchEvents: 7, maxBatchBytes: 1e6 }, () => {});
      // B starts a little later, as a second instance would.
      await Promise.all([
        feed(a, [...upstream, terminal]),
        new Promise((r) => setTimeout(r, round * 3)).then(() => feed(b, [...upstream, terminal])),
      ]);
      const stored = await readAll(id);
      expect(stored.map((e) => e.sequence_number)).toEqual(range(0, 61));
      expect(stored.map((e) => e.delta ?? e.type)).toEqual([...upstream.map((e) => e.delta), "response.completed"]);
      expect(a.ended && b.ended).toBe(true);
      expect((await log.last(id))!.end).toEqual({ status: "completed" });
    }
    expect(lost.count).toBeGreaterThan(0);
  });

  it("never let a writer that finishes the stream itself contradict one relaying the upstream", async () => {
    const text = upstream.map((e) => e.delta).join("");
    const final = {
      id: "resp_x",
      object: "response",
      status: "completed",
      output: [
        {
          id: "msg_1",
          type: "message",
          status: "completed",
          role: "assistant",
          content: [{ type: "output_text", text, annotations: [], logprobs: [] }],
        },
      ],
    };
    lost.count = 0;
    for (let round = 0; round < 5; round++) {
      const id = jobId();
      const relaying = new LogWriter(counting(), id, { flushMs: 2, maxBatchEvents: 4, maxBatchBytes: 1e6 }, () => {});
      const finishing = new LogWriter(counting(), id, { flushMs: 2, maxBatchEvents: 4, maxBatchBytes: 1e6 }, () => {});
      await Promise.all([
        feed(relaying, upstream.slice(0, 40)),
        (async () => {
          await finishing.init();
          await new Promise((r) => setTimeout(r, 5 + round * 5));
          await finishing.finish(final, "completed");
        })(),
      ]);
      const stored = await readAll(id);
      expect(stored.map((e) => e.sequence_number)).toEqual(range(0, stored.length));
      // Whatever interleaving won, the stream reads as one: deltas that add up to the final text,
      // then its closing events, ending once with response.completed.
      const deltas = stored
        .filter((e) => e.type === "response.output_text.delta")
        .map((e) => e.delta)
        .join("");
      expect(deltas).toBe(text);
      expect(stored.filter((e) => e.type === "response.completed")).toHaveLength(1);
      expect(stored.at(-1)!.type).toBe("response.completed");
      expect(stored.find((e) => e.type === "response.output_text.done")!.text).toBe(text);
    }
    expect(lost.count).toBeGreaterThan(0);
  });
});
