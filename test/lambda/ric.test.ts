import { execFileSync } from "node:child_process";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundles, type BuiltBundle } from "#cdk/bundle-functions.ts";
import type { FunctionName } from "#cdk/bundling.ts";
import { DUE_SHARDS, OLDEST_DUE_AGE_ALARM_SECONDS } from "#cdk/relay-settings.ts";
import { startSimulator, type Simulator } from "#local/simulator/index.ts";
import { METRIC, METRICS_SERVICE } from "#shared/metrics.ts";
import { MAX_STEP_MS, SAFETY_MS } from "#shared/poller/window.ts";
import { DynamoTenantStore } from "#shared/store/dynamo-tenant-store.ts";
import { createTenant } from "#shared/use-cases/manage-keys.ts";
import { httpApiEvent, scheduledEvent } from "#test/bundles/events.ts";
import { createTestTable } from "#test/support/dynamo.ts";
import { extractAll } from "./cloudwatch-emf.ts";
import { ensureNode24 } from "#cdk/lambda-node.ts";
import { RicProcess, assertLambdaRuntimeInstalled } from "./ric-process.ts";
import { MAX_BUFFERED_RESPONSE_BYTES, splitStreamedReply } from "./runtime-api.ts";
import { XrayDaemon } from "./xray-daemon.ts";
import { startMoto } from "./moto.ts";

// Not skipped when missing: a machine without the test-only runtime fails here, saying what to install.
assertLambdaRuntimeInstalled();

it("runs on Node 24, the major the stack deploys", () => {
  expect(execFileSync(ensureNode24(), ["--version"], { encoding: "utf8" })).toMatch(/^v24\./);
});

let outDir: string;
let bundles: Record<FunctionName, BuiltBundle>;
let sim: Simulator;
let apiKey: string;
let env: Record<string, string>;
const running: RicProcess[] = [];

const start = async (name: FunctionName, extra: Record<string, string> = {}) => {
  const p = await RicProcess.start(bundles[name].file, `relay-${name}`, { ...env, ...extra });
  running.push(p);
  return p;
};

/** A function URL event (payload 2.0), as the stream function receives it. */
function functionUrlEvent(path: string, query = "", headers: Record<string, string> = {}) {
  const domainName = "abc123.lambda-url.us-east-1.on.aws";
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: query,
    headers: { host: domainName, ...headers },
    requestContext: {
      accountId: "anonymous",
      apiId: "abc123",
      domainName,
      domainPrefix: "abc123",
      http: { method: "GET", path, protocol: "HTTP/1.1", sourceIp: "203.0.113.9", userAgent: "test" },
      requestId: "req",
      routeKey: "$default",
      stage: "$default",
      time: "01/Jan/2026:00:00:00 +0000",
      timeEpoch: 0,
    },
    isBase64Encoded: false,
  };
}

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), "relay-ric-"));
  const [built, simulator, table] = await Promise.all([
    buildBundles(outDir),
    startSimulator({ behaviour: { queuedMs: 200, runMs: 1500 } }),
    createTestTable("relay-ric"),
  ]);
  bundles = Object.fromEntries(built.map((b) => [b.name, b])) as Record<FunctionName, BuiltBundle>;
  sim = simulator;
  ({ apiKey } = await createTenant(new DynamoTenantStore({ doc: table.doc, tableName: table.tableName }), {
    name: "ric-test",
  }));
  // The stack's common environment (cdk/relay-stack.ts) with local endpoints and a plain key.
  env = {
    RELAY_TABLE_NAME: table.tableName,
    DYNAMODB_ENDPOINT: table.endpoint,
    OPENAI_BASE_URL: sim.url,
    OPENAI_API_KEY: "sk-ric-test-key-000000",
    RELAY_PUBLIC_URL: "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
    RELAY_ALLOW_PRIVATE_WEBHOOKS: "false",
    RELAY_DUE_SHARDS: String(DUE_SHARDS),
    RELAY_STAGE: "prod",
    RELAY_METRICS_NAMESPACE: "ResponsesRelay",
    POWERTOOLS_SERVICE_NAME: METRICS_SERVICE,
  };
}, 60_000);

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await sim?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

describe("the bundles on Node 24 under aws-lambda-ric, with the template's environment", () => {
  it("http-api and poller: a job from submit to completed; logs are JSON objects; EMF is extracted", async () => {
    const [http, poller] = await Promise.all([start("http-api"), start("poller", { RELAY_POLL_TICK_MS: "200" })]);
    const submitted = await http.api.invoke(
      httpApiEvent("POST", "/v1/responses", {
        body: { model: "gpt-5-pro", input: "hello from ric", background: true },
        headers: { authorization: `Bearer ${apiKey}` },
      }),
      { timeoutMs: 29_000 },
    );
    expect(submitted.error).toBeUndefined();
    const reply = JSON.parse(submitted.body.toString("utf8"));
    expect(reply.statusCode).toBe(202);
    const job = JSON.parse(reply.isBase64Encoded ? Buffer.from(reply.body, "base64").toString() : reply.body);

    // Scheduled invocations with a short remaining time (window.ts keeps one step + margin back).
    let status = job.status;
    for (let i = 0; i < 5 && status !== "completed"; i++) {
      const run = await poller.api.invoke(scheduledEvent(), { timeoutMs: MAX_STEP_MS + SAFETY_MS + 1_500 });
      expect(run.error).toBeUndefined();
      const read = await http.api.invoke(
        httpApiEvent("GET", `/v1/responses/${job.id}`, { headers: { authorization: `Bearer ${apiKey}` } }),
        { timeoutMs: 29_000 },
      );
      const r = JSON.parse(read.body.toString("utf8"));
      status = JSON.parse(r.isBase64Encoded ? Buffer.from(r.body, "base64").toString() : r.body).status;
    }
    expect(status).toBe("completed");

    for (const fn of [http, poller]) {
      const lines = fn.lines();
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        // Every line is one JSON object as CloudWatch stores it, never JSON inside a string.
        expect(typeof line, String(line)).toBe("object");
        const message = (line as Record<string, unknown>).message;
        if (typeof message === "string") expect(message.trim().startsWith("{")).toBe(false);
        expect(JSON.stringify(line)).not.toContain("sk-ric-test-key");
      }
    }
    const metrics = extractAll(poller.stdout);
    const lag = metrics.filter((m) => m.name === METRIC.oldestDueAge);
    expect(lag.length).toBeGreaterThan(0);
    expect(lag[0]!.dimensions).toEqual({ service: METRICS_SERVICE, Stage: "prod" });
    expect(Math.max(...lag.flatMap((m) => m.values))).toBeLessThan(OLDEST_DUE_AGE_ALARM_SECONDS);
    expect(metrics.some((m) => m.name === METRIC.upstreamCalls)).toBe(true);
  }, 90_000);

  it("http-api: a 5 MB output to a client without gzip is a 200 within Lambda's 6 MB reply limit", async () => {
    const [http, poller] = await Promise.all([start("http-api"), start("poller", { RELAY_POLL_TICK_MS: "200" })]);
    const bytes = 5 * 1024 * 1024;
    const auth = { authorization: `Bearer ${apiKey}` };
    const submitted = await http.api.invoke(
      httpApiEvent("POST", "/v1/responses", {
        body: { model: "gpt-5-pro", input: "big", background: true, metadata: { sim_output_bytes: String(bytes) } },
        headers: auth,
      }),
      { timeoutMs: 29_000 },
    );
    const reply = JSON.parse(submitted.body.toString("utf8"));
    const job = JSON.parse(reply.isBase64Encoded ? Buffer.from(reply.body, "base64").toString() : reply.body);
    let read: Awaited<ReturnType<typeof http.api.invoke>> | undefined;
    let status = job.status;
    for (let i = 0; i < 5 && status !== "completed"; i++) {
      await poller.api.invoke(scheduledEvent(), { timeoutMs: MAX_STEP_MS + SAFETY_MS + 1_500 });
      // No Accept-Encoding: the JSON goes out as it is.
      read = await http.api.invoke(httpApiEvent("GET", `/v1/responses/${job.id}`, { headers: auth }), {
        timeoutMs: 29_000,
      });
      expect(read.error).toBeUndefined();
      status = JSON.parse(JSON.parse(read.body.toString("utf8")).body).status;
    }
    expect(status).toBe("completed");
    const result = JSON.parse(read!.body.toString("utf8"));
    expect(result.statusCode).toBe(200);
    expect(result.isBase64Encoded).toBe(false);
    expect(read!.body.length).toBeLessThanOrEqual(MAX_BUFFERED_RESPONSE_BYTES);
    const body = JSON.parse(result.body);
    // The text is on the wire once (OpenAI's wire has no `output_text`), all of it.
    expect(body.output_text).toBeUndefined();
    expect(body.output[0].content[0].text.length).toBe(bytes);
  }, 120_000);

  it("traces to X-Ray: a subsegment per DynamoDB call and per upstream request, in the invocation's trace", async () => {
    const daemon = await XrayDaemon.start();
    try {
      const http = await start("http-api", { AWS_XRAY_DAEMON_ADDRESS: daemon.address });
      http.api.sampled = true;
      const submitted = await http.api.invoke(
        httpApiEvent("POST", "/v1/responses", {
          body: { model: "gpt-5-pro", input: "traced", background: true },
          headers: { authorization: `Bearer ${apiKey}` },
        }),
        { timeoutMs: 29_000 },
      );
      expect(JSON.parse(submitted.body.toString("utf8")).statusCode).toBe(202);
      // Subsegments leave as they close; the last ones may trail the reply by a moment.
      for (let i = 0; i < 50 && !daemon.segments.some((s) => s.http?.request?.url?.includes("/responses")); i++)
        await new Promise((r) => setTimeout(r, 100));
      const dynamo = daemon.segments.filter((s) => s.name === "DynamoDB" && s.namespace === "aws");
      // A submit looks its key up, writes the job in a transaction and updates it (its reply is built
      // from the shown fields it just stored, so no read back).
      expect(dynamo.map((s) => s.aws?.operation)).toEqual(
        expect.arrayContaining(["GetItem", "TransactWriteItems", "UpdateItem"]),
      );
      const upstream = daemon.segments.filter((s) => s.namespace === "remote" && s.http?.request?.url);
      expect(upstream.map((s) => `${s.http?.request?.method} ${new URL(s.http!.request!.url!).pathname}`)).toContain(
        "POST /v1/responses",
      );
      // All in the trace Lambda opened for this invocation, under the segment it opened.
      const [root, parent] = http.api.traceHeaders
        .at(-1)!
        .split(";")
        .map((field) => field.split("=")[1]);
      expect(new Set(daemon.segments.map((s) => s.trace_id))).toEqual(new Set([root]));
      expect(new Set(daemon.segments.map((s) => `${s.type} under ${s.parent_id}`))).toEqual(
        new Set([`subsegment under ${parent}`]),
      );
      // A call on one table names it (a transaction's items name theirs).
      const oneTable = dynamo.filter((s) =>
        ["GetItem", "PutItem", "UpdateItem", "Query"].includes(s.aws?.operation ?? ""),
      );
      expect(oneTable.length).toBeGreaterThan(0);
      expect(new Set(oneTable.map((s) => s.aws?.table_name))).toEqual(new Set([env.RELAY_TABLE_NAME]));
      expect(JSON.stringify(daemon.segments)).not.toContain("sk-ric-test-key");
      // An invocation Lambda did not sample records nothing.
      const seen = daemon.segments.length;
      http.api.sampled = false;
      const unsampled = await http.api.invoke(
        httpApiEvent("GET", "/v1/responses", { headers: { authorization: `Bearer ${apiKey}` } }),
        { timeoutMs: 29_000 },
      );
      expect(JSON.parse(unsampled.body.toString("utf8")).statusCode).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      expect(daemon.segments.length).toBe(seen);
    } finally {
      daemon.close();
    }
  }, 60_000);

  it("stream: SSE through RESPONSE_STREAM, with the HTTP prelude, to the end of the response", async () => {
    const [http, stream] = await Promise.all([start("http-api"), start("stream")]);
    const submitted = await http.api.invoke(
      httpApiEvent("POST", "/v1/responses", {
        body: { model: "gpt-5-pro", input: "stream me", background: true },
        headers: { authorization: `Bearer ${apiKey}` },
      }),
      { timeoutMs: 29_000 },
    );
    const r = JSON.parse(submitted.body.toString("utf8"));
    const job = JSON.parse(r.isBase64Encoded ? Buffer.from(r.body, "base64").toString() : r.body);
    const result = await stream.api.invoke(
      functionUrlEvent(`/v1/responses/${job.id}`, "stream=true", { authorization: `Bearer ${apiKey}` }),
      { timeoutMs: 60_000 },
    );
    expect(result.streaming).toBe(true);
    const { prelude, text } = splitStreamedReply(result.body);
    expect(prelude.statusCode).toBe(200);
    expect(prelude.headers["content-type"]).toMatch(/^text\/event-stream/);
    expect(text).toContain("event: response.completed");
  }, 60_000);

  it("stream: the client going away ends the stream's work at once", async () => {
    const [http, stream] = await Promise.all([start("http-api"), start("stream")]);
    sim.configure({ runMs: 120_000 });
    const submitted = await http.api.invoke(
      httpApiEvent("POST", "/v1/responses", {
        body: { model: "gpt-5-pro", input: "a long one", background: true },
        headers: { authorization: `Bearer ${apiKey}` },
      }),
      { timeoutMs: 29_000 },
    );
    const r = JSON.parse(submitted.body.toString("utf8"));
    const job = JSON.parse(r.isBase64Encoded ? Buffer.from(r.body, "base64").toString() : r.body);
    sim.configure({ runMs: 1_500 });
    let cut = false;
    const started = Date.now();
    const result = await stream.api.invoke(
      functionUrlEvent(`/v1/responses/${job.id}`, "stream=true", { authorization: `Bearer ${apiKey}` }),
      {
        timeoutMs: 900_000,
        // The first bytes arrived: the client disconnects (Lambda closes the runtime's reply stream).
        onChunk: (_chunk, request) => {
          if (cut) return;
          cut = true;
          setTimeout(() => request.destroy(), 200);
        },
      },
    );
    expect(cut).toBe(true);
    expect(result.requestId).toEqual(expect.any(String));
    // The invocation ends within seconds of the disconnect, not at the 15-minute timeout.
    await expect.poll(() => stream.output, { timeout: 10_000 }).toContain("client disconnected; stream work stopped");
    const line = stream
      .lines()
      .find((l) => typeof l === "object" && l.message === "client disconnected; stream work stopped");
    expect(line).toMatchObject({ level: "INFO", service: METRICS_SERVICE, awsRequestId: result.requestId });
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 60_000);

  it("reads the upstream key from Secrets Manager, signed with the role's credentials from the environment", async () => {
    // The bundles' credential chain is only the environment (functions/lambda-credentials.ts): a
    // secret read, the one AWS call at submit, proves it signs as the SDK's full chain would.
    const moto = await startMoto();
    try {
      const credentials = { accessKeyId: "test", secretAccessKey: "test" };
      const sm = new SecretsManagerClient({ region: "us-east-1", endpoint: moto.endpoint, credentials });
      const { ARN } = await sm.send(
        new CreateSecretCommand({ Name: `ric-key-${Date.now()}`, SecretString: "sk-ric-secret-key-0000" }),
      );
      const http = await start("http-api", {
        OPENAI_API_KEY: "",
        OPENAI_API_KEY_SECRET_ARN: ARN!,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint,
      });
      const submitted = await http.api.invoke(
        httpApiEvent("POST", "/v1/responses", {
          body: { model: "gpt-5-pro", input: "key from a secret", background: true },
          headers: { authorization: `Bearer ${apiKey}` },
        }),
        { timeoutMs: 29_000 },
      );
      expect(JSON.parse(submitted.body.toString("utf8")).statusCode).toBe(202);
      expect(http.lines().filter((l) => typeof l === "object" && l.level === "ERROR")).toEqual([]);
    } finally {
      await moto.stop();
    }
  }, 60_000);

  it("init failure: a missing required variable is reported to Lambda by name, with its error class", async () => {
    const broken = await start("http-api", { RELAY_TABLE_NAME: "" });
    await broken.api.waitForInitError();
    expect(broken.api.initError).toMatchObject({ errorType: "ConfigError" });
    expect(broken.api.initError!.errorMessage).toMatch(/RELAY_TABLE_NAME is required/);
  }, 30_000);

  it("a malformed optional secret switches off only OpenAI webhooks: the API starts and answers", async () => {
    const http = await start("http-api", { OPENAI_WEBHOOK_SECRET: "not-a-whsec-value" });
    const health = await http.api.invoke(httpApiEvent("GET", "/health", {}), { timeoutMs: 29_000 });
    expect(JSON.parse(health.body.toString("utf8")).statusCode).toBe(200);
    const hook = await http.api.invoke(
      httpApiEvent("POST", "/v1/webhooks/openai", { body: { type: "response.completed" } }),
      { timeoutMs: 29_000 },
    );
    const status = JSON.parse(hook.body.toString("utf8")).statusCode as number;
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    const errors = http.lines().filter((l) => typeof l === "object" && l.level === "ERROR");
    expect(errors.some((l) => String((l as Record<string, unknown>).message).includes("openai-webhook-secret"))).toBe(
      true,
    );
    expect(http.output).not.toContain("not-a-whsec-value");
    expect(extractAll(http.stdout).some((m) => m.name === METRIC.secretInvalid)).toBe(true);
  }, 30_000);
});
