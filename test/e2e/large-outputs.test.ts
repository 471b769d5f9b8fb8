import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputText } from "#shared/domain/response-view.ts";
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { request } from "node:http";
import { handle } from "hono/aws-lambda";
import { createApp } from "#shared/http/app.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";

let relay: RelayHarness;
beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 500, runMs: 1500 } });
});
afterAll(() => relay.close());

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

describe("outputs larger than a DynamoDB item", () => {
  it.each([
    ["410 KB", 410 * 1024],
    ["1.1 MB", Math.round(1.1 * 1024 * 1024)],
    ["5 MB", 5 * 1024 * 1024],
  ])("returns a %s output intact, byte for byte", async (_label, bytes) => {
    const res = await relay.call("POST", "/v1/responses", {
      background: true,
      model: "gpt-5-pro",
      input: `big ${bytes}`,
      metadata: { sim_output_bytes: String(bytes) },
    });
    const done = await relay.settle(res.body.id);
    expect(done.status).toBe("completed");
    const upstreamText = (relay.sim.getResponse(done.relay.upstream_id) as any).output[0].content[0].text as string;
    expect(upstreamText.length).toBe(bytes);
    expect(outputText(done.output).length).toBe(bytes);
    expect(sha(outputText(done.output))).toBe(sha(upstreamText));
    expect(done.output[0].content[0].text).toBe(upstreamText);
  });
});

describe("large outputs on a buffered Lambda (6 MB reply limit)", () => {
  it("gzips the status reply for clients that accept it, through HTTP and through the Lambda adapter", async () => {
    const bytes = 5 * 1024 * 1024;
    const res = await relay.call("POST", "/v1/responses", {
      background: true,
      model: "gpt-5-pro",
      input: "gzip me",
      metadata: { sim_output_bytes: String(bytes) },
    });
    const done = await relay.settle(res.body.id);
    // Raw HTTP with Accept-Encoding: the wire carries gzip, and it decodes to the same JSON.
    const raw = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      const url = new URL(`${relay.url}/v1/responses/${res.body.id}`);
      request(url, { headers: { authorization: `Bearer ${relay.apiKey}`, "accept-encoding": "gzip" } }, (r) => {
        const chunks: Buffer[] = [];
        r.on("data", (c) => chunks.push(c));
        r.on("end", () => resolve({ encoding: r.headers["content-encoding"], body: Buffer.concat(chunks) }));
      })
        .on("error", reject)
        .end();
    });
    expect(raw.encoding).toBe("gzip");
    expect(raw.body.length).toBeLessThan(bytes / 2);
    expect(outputText(JSON.parse(gunzipSync(raw.body).toString("utf8")).output)).toBe(outputText(done.output));

    // The same through Hono's Lambda adapter with an API Gateway HTTP API (v2) event.
    const handler = handle(createApp(relay.deps, { maxBodyBytes: 1 << 20, log: () => {} }));
    const result = (await handler(
      {
        version: "2.0",
        routeKey: "$default",
        rawPath: `/v1/responses/${res.body.id}`,
        rawQueryString: "",
        headers: { authorization: `Bearer ${relay.apiKey}`, "accept-encoding": "gzip, deflate", host: "relay.example" },
        requestContext: {
          http: {
            method: "GET",
            path: `/v1/responses/${res.body.id}`,
            protocol: "HTTP/1.1",
            sourceIp: "127.0.0.1",
            userAgent: "t",
          },
          domainName: "relay.example",
          requestId: "r",
          routeKey: "$default",
          stage: "$default",
          time: "",
          timeEpoch: 0,
          accountId: "1",
          apiId: "a",
          domainPrefix: "relay",
        },
        isBase64Encoded: false,
      } as never,
      {} as never,
    )) as { statusCode: number; body: string; isBase64Encoded: boolean };
    expect(result.statusCode).toBe(200);
    expect(result.isBase64Encoded).toBe(true);
    expect(Buffer.byteLength(result.body)).toBeLessThan(6 * 1024 * 1024);
    expect(outputText(JSON.parse(gunzipSync(Buffer.from(result.body, "base64")).toString("utf8")).output)).toBe(
      outputText(done.output),
    );
  });
});
