import { createServer, request, type Server } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestTable } from "#test/support/dynamo.ts";
import { XrayDaemon, type XraySegment } from "./xray-daemon.ts";

/**
 * functions/tracing.ts in process, as in Lambda: the variables Lambda sets, a trace header per
 * "invocation", the daemon stand-in listening. The bundles' end-to-end check is in ric.test.ts.
 */
let daemon: XrayDaemon;
let server: Server;
let base: string;
let instrument: <T extends object>(client: T) => T;
const saved = { ...process.env };
const ROOT = "1-67a1b2c3-0123456789abcdef01234567";
const PARENT = "53995c3f42cd8ad8";

const invocation = (sampled: boolean) => {
  process.env._X_AMZN_TRACE_ID = `Root=${ROOT};Parent=${PARENT};Sampled=${sampled ? 1 : 0}`;
};

async function segmentsAfter(count: number): Promise<XraySegment[]> {
  for (let i = 0; i < 40 && daemon.segments.length < count; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 100)); // and nothing more trails in
  return daemon.segments.splice(0);
}

function post(path: string, port = (server.address() as AddressInfo).port): Promise<void> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, method: "POST" }, (res) => res.resume().on("end", resolve));
    req.on("error", () => resolve());
    req.end("{}");
  });
}

beforeAll(async () => {
  daemon = await XrayDaemon.start();
  server = createServer((req, res) => {
    const body = '{"ok":true}';
    res.writeHead(req.url?.startsWith("/busy") ? 503 : 200, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  Object.assign(process.env, {
    AWS_LAMBDA_FUNCTION_NAME: "relay-tracing-test",
    AWS_XRAY_DAEMON_ADDRESS: daemon.address,
    AWS_REGION: "us-east-1",
  });
  ({ instrument } = await import("#functions/tracing.ts"));
});

afterAll(() => {
  process.env = saved;
  daemon?.close();
  server?.close();
});

describe("X-Ray subsegments without the X-Ray SDK", () => {
  it("one per AWS SDK call, in the invocation's trace, and not again as an HTTP request", async () => {
    const table = await createTestTable("relay-tracing");
    instrument(table.client);
    invocation(true);
    await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: "x", sk: "y" } }));
    const [call, ...others] = await segmentsAfter(1);
    expect(others).toEqual([]);
    expect(call).toMatchObject({
      type: "subsegment",
      trace_id: ROOT,
      parent_id: PARENT,
      name: "DynamoDB",
      namespace: "aws",
      aws: { operation: "GetItem", table_name: table.tableName, region: "us-east-1", retries: 0 },
      http: { response: { status: 200 } },
    });
    expect(call!.end_time as number).toBeGreaterThanOrEqual(call!.start_time as number);
  });

  it("one per fetch and per node:http request, without the query string, flagged by status", async () => {
    invocation(true);
    await (await fetch(`${base}/v1/responses?api_key=s3cret`, { method: "POST", body: "{}" })).text();
    await post("/busy");
    await post("/refused", 1); // nothing listens on port 1
    const segments = await segmentsAfter(3);
    expect(JSON.stringify(segments)).not.toContain("s3cret");
    const byPath = Object.fromEntries(segments.map((s) => [new URL(s.http!.request!.url!).pathname, s]));
    expect(byPath["/v1/responses"]).toMatchObject({
      namespace: "remote",
      name: "127.0.0.1",
      parent_id: PARENT,
      http: { request: { method: "POST" }, response: { status: 200, content_length: 11 } },
    });
    expect(byPath["/busy"]).toMatchObject({ fault: true, http: { response: { status: 503, content_length: 11 } } });
    expect(byPath["/refused"]).toMatchObject({ error: true, cause: { exceptions: [{ remote: true }] } });
  });

  it("nothing for an invocation Lambda did not sample", async () => {
    invocation(false);
    await (await fetch(`${base}/v1/responses`)).text();
    await post("/hook");
    expect(await segmentsAfter(1)).toEqual([]);
  });
});
