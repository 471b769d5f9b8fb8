import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { EventBridgePublisher, detailType } from "#shared/events/eventbridge-publisher.ts";
import type { LifecycleEvent } from "#shared/ports.ts";

/** A local endpoint that speaks EventBridge's wire protocol and fails chosen entries. */
const calls: { target: string | undefined; body: any }[] = [];
let failOnFirstCall: number[] = [];
const server = createServer((req, res) => {
  let raw = "";
  req.on("data", (c) => (raw += c));
  req.on("end", () => {
    const body = JSON.parse(raw);
    calls.push({ target: req.headers["x-amz-target"] as string, body });
    const failing = calls.length === 1 ? failOnFirstCall : [];
    const entries = body.Entries.map((_: unknown, i: number) =>
      failing.includes(i)
        ? { ErrorCode: "InternalFailure", ErrorMessage: "try again" }
        : { EventId: `ev-${calls.length}-${i}` },
    );
    res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
    res.end(JSON.stringify({ FailedEntryCount: failing.length, Entries: entries }));
  });
});
let client: EventBridgeClient;
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  client = new EventBridgeClient({
    region: "us-east-1",
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
});
afterAll(() => server.close());

const event = (i: number, status = "completed"): LifecycleEvent => ({
  eventId: `resp_${i}:2`,
  jobId: `resp_${i}`,
  tenantId: "ten_1",
  status,
  previousStatus: "in_progress",
  upstreamId: `resp_up_${i}`,
  model: "gpt-5-pro",
  at: Date.UTC(2026, 10, 24, 12),
  costUsd: 0.25,
  error: null,
  reason: null,
});

describe("EventBridge publisher (real AWS SDK, local wire endpoint)", () => {
  it("sends PutEvents in batches of 10 with a source and detail-type that read well in a rule", async () => {
    calls.length = 0;
    failOnFirstCall = [];
    await new EventBridgePublisher({ client, busName: "relay-bus" }).publish(
      Array.from({ length: 12 }, (_, i) => event(i, i === 0 ? "in_progress" : "completed")),
    );
    expect(calls).toHaveLength(2);
    expect(calls[0]!.target).toBe("AWSEvents.PutEvents");
    expect(calls[0]!.body.Entries).toHaveLength(10);
    expect(calls[1]!.body.Entries).toHaveLength(2);
    const first = calls[0]!.body.Entries[0];
    expect(first).toMatchObject({
      EventBusName: "relay-bus",
      Source: "responses-relay",
      DetailType: "Response In Progress",
    });
    expect(JSON.parse(first.Detail)).toMatchObject({
      jobId: "resp_0",
      tenantId: "ten_1",
      status: "in_progress",
      at: "2026-11-24T12:00:00.000Z",
    });
    expect(detailType("completed")).toBe("Response Completed");
  });

  it("resends only the entries that failed under an HTTP 200", async () => {
    calls.length = 0;
    failOnFirstCall = [1, 3];
    await new EventBridgePublisher({ client, busName: "relay-bus" }).publish([0, 1, 2, 3, 4].map((i) => event(i)));
    expect(calls).toHaveLength(2);
    expect(calls[1]!.body.Entries.map((e: any) => JSON.parse(e.Detail).jobId)).toEqual(["resp_1", "resp_3"]);
  });

  it("gives up quietly (logged) rather than failing a transition", async () => {
    const logs: Record<string, unknown>[] = [];
    const dead = new EventBridgeClient({
      region: "us-east-1",
      endpoint: "http://127.0.0.1:1",
      credentials: { accessKeyId: "t", secretAccessKey: "t" },
      maxAttempts: 1,
    });
    await expect(
      new EventBridgePublisher({ client: dead, busName: "b", attempts: 2, log: (e) => logs.push(e) }).publish([
        event(1),
      ]),
    ).resolves.toBeUndefined();
    expect(logs[0]).toMatchObject({ level: "error", msg: "lifecycle events not published", count: 1 });
  });
});
