import { readFile, mkdtemp, rm } from "node:fs/promises";
import { outputText } from "#shared/domain/response-view.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "#local/simulator/index.ts";
import { DynamoTenantStore } from "#shared/store/dynamo-tenant-store.ts";
import { createTenant } from "#shared/use-cases/manage-keys.ts";
import {
  ALL_FUNCTIONS,
  buildBundles,
  formatBundleReport,
  measureInitTime,
  type BuiltBundle,
} from "#cdk/bundle-functions.ts";
import { RELAY_BUNDLING, type FunctionName } from "#cdk/bundling.ts";
import { DUE_SHARDS } from "#cdk/relay-settings.ts";
import { MAX_STEP_MS, SAFETY_MS } from "#shared/poller/window.ts";
import { createTestTable } from "#test/support/dynamo.ts";
import { httpApiEvent, scheduledEvent } from "./events.ts";
import { LambdaContainer } from "./lambda-container.ts";
import { TERMINAL_STATUSES } from "#shared/domain/job.ts";

/**
 * Cold starts follow bundle size (V8 compiles the whole file at import), so the budget is close
 * above today's largest (~740 KB, docs/decisions/0012-bundle-diet.md): a dependency that drags a
 * schema library or another client back in fails here, not in production's init times.
 */
const BUNDLE_BUDGET_BYTES = 800 * 1024;
/**
 * The poller's fake context starts with this much time: shared/poller/window.ts keeps one job
 * step (40 s) and 5 s back, so it starts work for ~2 s and returns.
 */
const POLLER_REMAINING_MS = MAX_STEP_MS + SAFETY_MS + 2_000;

type HttpResult = APIGatewayProxyStructuredResultV2 & { json: any };

describe("Lambda bundles built with the deployed esbuild settings, run in their own Node processes", () => {
  let outDir: string;
  let bundles: Record<FunctionName, BuiltBundle>;
  let sim: Simulator;
  let apiKey: string;
  let env: Record<string, string>;
  let httpApi: LambdaContainer;
  let poller: LambdaContainer;

  const call = async (
    method: string,
    path: string,
    options: { body?: unknown; key?: string | null; query?: Record<string, string> } = {},
  ): Promise<HttpResult> => {
    const key = options.key === undefined ? apiKey : options.key;
    const { result } = await httpApi.invoke<APIGatewayProxyStructuredResultV2>(
      httpApiEvent(method, path, {
        body: options.body,
        query: options.query,
        headers: key ? { authorization: `Bearer ${key}` } : {},
      }),
      { timeoutMs: 29_000 },
    );
    const text = result.isBase64Encoded
      ? Buffer.from(result.body ?? "", "base64").toString("utf8")
      : (result.body ?? "");
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { ...result, json };
  };

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), "relay-bundles-"));
    const [built, simulator, table] = await Promise.all([
      buildBundles(outDir),
      startSimulator({ behaviour: { queuedMs: 100, runMs: 300 } }),
      createTestTable("relay-bundles"),
    ]);
    bundles = Object.fromEntries(built.map((b) => [b.name, b])) as Record<FunctionName, BuiltBundle>;
    sim = simulator;
    ({ apiKey } = await createTenant(new DynamoTenantStore({ doc: table.doc, tableName: table.tableName }), {
      name: "bundle-test",
    }));

    // What the stack sets (cdk/relay-stack.ts), with local endpoints and a plain key instead of secret ARNs.
    env = {
      AWS_REGION: "us-east-1",
      RELAY_TABLE_NAME: table.tableName,
      DYNAMODB_ENDPOINT: table.endpoint,
      OPENAI_BASE_URL: sim.url,
      OPENAI_API_KEY: "sk-bundle-test",
      RELAY_PUBLIC_URL: "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
      RELAY_ALLOW_PRIVATE_WEBHOOKS: "false",
      RELAY_DUE_SHARDS: String(DUE_SHARDS),
    };
    [httpApi, poller] = await Promise.all([
      LambdaContainer.start("http-api", bundles["http-api"].file, env),
      LambdaContainer.start("poller", bundles.poller.file, { ...env, RELAY_POLL_TICK_MS: "100" }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([httpApi?.stop(), poller?.stop(), sim?.close()]);
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it("builds every function as a self-contained ESM bundle with the require banner and a source map", async () => {
    expect(Object.keys(bundles).sort()).toEqual([...ALL_FUNCTIONS].sort());
    for (const bundle of Object.values(bundles)) {
      const code = await readFile(bundle.file, "utf8");
      expect(code.startsWith(RELAY_BUNDLING.banner)).toBe(true);
      expect(code.trimEnd().endsWith(`//# sourceMappingURL=${RELAY_BUNDLING.outFile}.map`)).toBe(true);
      // Nothing left to resolve at run time: node_modules (the AWS SDK included) is bundled, and
      // every Node built-in comes through its shim (cdk/bundling.ts builtinAliases), never an ESM
      // import, whose facade would read all of the module's exports at cold start.
      expect(bundle.runtimeImports).toEqual([]);
      expect(code).toContain('process.getBuiltinModule("node:crypto")');
      const map = JSON.parse(await readFile(`${bundle.file}.map`, "utf8")) as {
        sources: string[];
        sourcesContent?: unknown;
      };
      expect(map.sources.some((s) => s.endsWith(`functions/${bundle.name}.ts`))).toBe(true);
      expect(map.sourcesContent).toBeUndefined();
      expect(bundle.bytes).toBeLessThan(BUNDLE_BUDGET_BYTES);
    }
  });

  it("cold-starts each bundle and exports an async handler", () => {
    for (const container of [httpApi, poller]) {
      expect(container.handlerType).toBe("function");
      expect(container.initMs).toBeGreaterThan(0);
    }
  });

  it("serves /health and OpenAI-shaped errors through the bundled HTTP handler", async () => {
    const health = await call("GET", "/health", { key: null });
    expect(health.statusCode).toBe(200);
    expect(health.json).toEqual({ status: "ok" });

    const noKey = await call("GET", "/v1/responses", { key: null });
    expect(noKey.statusCode).toBe(401);
    expect(noKey.json.error).toMatchObject({ type: expect.any(String), message: expect.any(String) });

    const unknown = await call("GET", "/v1/responses/resp_doesnotexist");
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json.error.message).toEqual(expect.any(String));
  });

  it("takes a job from submit through the scheduled poller to completed, read back through the status handler", async () => {
    const createsBefore = sim.stats().ops.create;
    const submitted = await call("POST", "/v1/responses", {
      body: {
        background: true,
        model: "gpt-5-pro",
        input: "Summarise the history of message queues.",
        metadata: { case: "bundle-test" },
      },
    });
    expect(submitted.statusCode).toBe(202);
    const id = submitted.json.id as string;
    expect(id).toEqual(expect.any(String));
    expect(submitted.json).toMatchObject({ object: "response", status: "queued", metadata: { case: "bundle-test" } });
    expect(submitted.headers?.location).toMatch(new RegExp(`/v1/responses/${id}$`));
    expect(Number(submitted.headers?.["retry-after"])).toBeGreaterThan(0);
    expect(sim.stats().ops.create).toBe(createsBefore + 1);

    // EventBridge's part: one scheduled invocation after another until the job has ended.
    let status = submitted.json;
    const invocations: { ticks: number; durationMs: number }[] = [];
    const giveUpAt = Date.now() + 20_000;
    while (!TERMINAL_STATUSES.has(status.status)) {
      if (Date.now() > giveUpAt)
        throw new Error(`job still ${status.status} after ${invocations.length} poller invocations`);
      const { result, durationMs } = await poller.invoke<{ ticks: number; advanced: number }>(scheduledEvent(), {
        timeoutMs: POLLER_REMAINING_MS,
      });
      invocations.push({ ticks: result.ticks, durationMs });
      // It stops on its own before the (fake) timeout, after ticking at least once.
      expect(result.ticks).toBeGreaterThanOrEqual(1);
      expect(durationMs).toBeLessThan(POLLER_REMAINING_MS);
      status = (await call("GET", `/v1/responses/${id}`)).json;
    }

    const final = await call("GET", `/v1/responses/${id}`);
    expect(final.statusCode).toBe(200);
    expect(final.json).toMatchObject({ id, object: "response", status: "completed" });
    const upstreamId = final.json.relay.upstream_id as string;
    const upstream = sim.getResponse(upstreamId) as {
      status: string;
      output_text?: string;
      output: { type: string; content?: { type: string; text: string }[] }[];
    };
    expect(upstream.status).toBe("completed");
    const upstreamText = upstream.output
      .filter((item) => item.type === "message")
      .flatMap((item) => item.content ?? [])
      .filter((part) => part.type === "output_text")
      .map((part) => part.text)
      .join("");
    expect(upstreamText.length).toBeGreaterThan(0);
    expect(outputText(final.json.output)).toBe(upstreamText);
    expect(final.json.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) });
    // One upstream create for the job, however many poller invocations it took.
    expect(sim.stats().createdIds.filter((created) => created === upstreamId)).toHaveLength(1);

    const listed = await call("GET", "/v1/responses", { query: { limit: "5" } });
    expect(listed.statusCode).toBe(200);
    expect(JSON.stringify(listed.json)).toContain(id);
  });

  it("reports each bundle's size and cold-start init time", async () => {
    const rows = [];
    for (const name of ALL_FUNCTIONS) {
      const timing = await measureInitTime(bundles[name].file, env, 3);
      expect(timing.runsMs).toHaveLength(3);
      for (const ms of timing.runsMs) expect(ms).toBeGreaterThan(0);
      rows.push({ name, bytes: bundles[name].bytes, mapBytes: bundles[name].mapBytes, initMs: timing.medianMs });
    }
    console.log(
      `Lambda bundles (esbuild ${RELAY_BUNDLING.target}, minified; init = median import time of 3 fresh processes):\n${formatBundleReport(rows)}`,
    );
  });
});
