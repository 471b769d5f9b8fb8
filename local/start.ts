/**
 * `npm start`: the whole relay on this machine. DynamoDB Local with the table CDK deploys, the
 * Responses API simulator (unless OPENAI_API_KEY is set), the HTTP API, and the poller on the
 * schedule EventBridge would run it (an invocation a minute, ticking every few seconds).
 *
 * State survives restarts and crashes: DynamoDB Local keeps its files in the data folder
 * (RELAY_DATA_DIR, default `.relay/`), locked against a second stack; `npm start -- --fresh`
 * starts empty. The simulator keeps its responses in memory only: after a restart, a job whose
 * upstream response was lost ends `failed` at its next poll (the upstream answers 404).
 */
import { join } from "node:path";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { serve } from "@hono/node-server";
import { loadConfig } from "#shared/config.ts";
import { EventBridgePublisher } from "#shared/events/eventbridge-publisher.ts";
import { createApp } from "#shared/http/app.ts";
import { jsonLog } from "#shared/log.ts";
import { Poller } from "#shared/poller/poller.ts";
import { createDeps, localWorkersOf } from "#shared/runtime.ts";
import { createDynamoClients } from "#shared/store/dynamo-client.ts";
import { createTenant } from "#shared/use-cases/manage-keys.ts";
import { newApiKey, newWebhookSecret, sha256Hex } from "#shared/ids.ts";
import { DataDirInUseError, DataDirLock, dataDirFromEnv, emptyDataDir, loadDevCredentials } from "./data-dir.ts";
import { ensureTable, startDynamoDbLocal, JavaMissingError } from "./dynamodb-local.ts";
import { fileCheckpoints, StreamOutbox } from "#local/stream-outbox.ts";
import { startSimulator, type Simulator } from "#local/simulator/index.ts";

const TABLE = "responses-relay-local";

async function main() {
  // Node 20 is fine for the local stack (Lambda runs 22/24): skip the SDK's upgrade notice.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const port = Number(process.env.PORT ?? 3000);
  const stopping: (() => Promise<void>)[] = [];
  let shuttingDown = false;
  const shutdown = async (code = 0) => {
    if (shuttingDown) return;
    shuttingDown = true;
    console.log("\nStopping…");
    for (const stop of stopping.reverse()) await stop().catch((error) => console.error(error));
    process.exit(code);
  };
  process.on("SIGINT", () => void shutdown(0));
  process.on("SIGTERM", () => void shutdown(0));
  // npm runs this under `sh -c`, and a SIGTERM sent to npm alone (a process manager, `timeout`)
  // kills that shell without passing the signal on: this process is re-parented and would keep the
  // whole stack running, DynamoDB Local's JVM and the port included. A new parent is taken as the
  // signal it missed. (Windows never re-parents; npm's own Ctrl-C reaches the whole group anyway.)
  const parentPid = process.ppid;
  setInterval(() => {
    if (process.ppid !== parentPid) void shutdown(0);
  }, 500).unref();

  const dataDir = dataDirFromEnv();
  const fresh = process.argv.includes("--fresh");
  const lock = DataDirLock.acquire(dataDir);
  process.once("exit", () => lock.release());
  // Last out: released after DynamoDB Local has stopped writing the files.
  stopping.push(async () => lock.release());
  if (fresh) emptyDataDir(dataDir);

  const dynamo = await startDynamoDbLocal({ dataDir: join(dataDir, "dynamodb") });
  lock.addChild(dynamo.pid);
  stopping.push(() => dynamo.stop());
  const { client } = createDynamoClients({ endpoint: dynamo.endpoint });
  await ensureTable(client, TABLE);

  let simulator: Simulator | undefined;
  const useOpenAI = Boolean(process.env.OPENAI_API_KEY?.trim());
  if (!useOpenAI) {
    simulator = await startSimulator({ port: Number(process.env.SIMULATOR_PORT ?? 0) });
    stopping.push(() => simulator!.close());
  }

  const config = loadConfig({
    ...process.env,
    RELAY_TABLE_NAME: TABLE,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    RELAY_PUBLIC_URL: process.env.RELAY_PUBLIC_URL ?? `http://127.0.0.1:${port}`,
    RELAY_ALLOW_PRIVATE_WEBHOOKS: process.env.RELAY_ALLOW_PRIVATE_WEBHOOKS ?? "true",
    ...(simulator ? { OPENAI_BASE_URL: simulator.url, OPENAI_API_KEY: "sk-simulator" } : {}),
  });
  // The bus named by RELAY_EVENT_BUS_NAME gets the outbox's lifecycle events (below); unset, the log does.
  const events = config.eventBusName
    ? new EventBridgePublisher({
        client: new EventBridgeClient({ region: config.region }),
        busName: config.eventBusName,
        log: jsonLog,
      })
    : undefined;
  const deps = createDeps(config, { events });
  // Jobs of upstreams without background mode run in this process; on Ctrl-C their workers let
  // go (lease released), and the next start's poller runs those jobs again.
  stopping.push(async () => localWorkersOf(deps)?.stopAll());
  const { credentials } = loadDevCredentials(dataDir, () => ({
    apiKey: newApiKey(),
    webhookSecret: newWebhookSecret(),
  }));
  const apiKey = process.env.RELAY_DEV_API_KEY?.trim() || credentials.apiKey;
  const webhookSecret = process.env.RELAY_DEV_WEBHOOK_SECRET?.trim() || credentials.webhookSecret;
  // Registered once per data folder: a restart finds the tenant and its key again.
  const known = await deps.tenants.tenantForKeyHash(sha256Hex(apiKey));
  if (!known) await createTenant(deps.tenants, { name: "dev", id: "ten_dev", apiKey, webhookSecret });
  else if (!known.webhookSecrets.includes(webhookSecret))
    await deps.tenants.putTenant({ ...known, webhookSecrets: [webhookSecret] });

  const app = createApp(deps, { maxBodyBytes: config.maxBodyBytes, openaiWebhookSecret: config.openaiWebhookSecret });
  const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  stopping.push(() => new Promise<void>((resolve) => server.close(() => resolve())));

  // The lifecycle-event outbox: DynamoDB Local's stream of the table, as the stream-handler
  // Lambda reads DynamoDB Streams in AWS. Its checkpoint lives with the data.
  const outboxAbort = new AbortController();
  const streams = new DynamoDBStreamsClient({
    endpoint: dynamo.endpoint,
    // DynamoDB Local ignores it, but the SDK refuses to start without one (a fresh machine has no AWS_REGION).
    region: config.region ?? "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const outbox = new StreamOutbox({
    dynamo: client,
    streams,
    tableName: TABLE,
    publisher: deps.events,
    checkpoints: fileCheckpoints(join(dataDir, "outbox-checkpoints.json")),
    log: (e) => console.error(JSON.stringify(e)),
  }).run(outboxAbort.signal);
  stopping.push(async () => {
    outboxAbort.abort();
    await outbox;
  });

  // EventBridge: one invocation a minute, each ticking until just before the next.
  const abort = new AbortController();
  const poller = () =>
    new Poller(deps, {
      tickMs: config.pollTickMs,
      concurrency: config.pollConcurrency,
      maxWatches: config.maxWatches,
      log: (e) => console.error(JSON.stringify(e)),
    })
      .run({ budgetMs: 56_000, signal: abort.signal })
      .catch((error) => console.error("poller invocation failed:", error));
  let running = poller();
  const schedule = setInterval(() => void (running = running.then(poller)), 60_000);
  stopping.push(async () => {
    clearInterval(schedule);
    abort.abort();
    await running;
  });

  const url = `http://127.0.0.1:${port}`;
  console.log(`
responses-relay local stack is running.

  API          ${url}   (docs: ${url}/docs, health: ${url}/health)
  upstream     ${upstreamsBanner(config, simulator)}
  DynamoDB     DynamoDB Local at ${dynamo.endpoint}, table ${TABLE}
  data         ${dataDir}${fresh ? " (emptied: --fresh)" : " (kept across restarts; npm start -- --fresh empties it)"}
  poller       every minute, ticking every ${config.pollTickMs / 1000} s

  dev API key          ${apiKey}
  dev webhook secret   ${webhookSecret}

Try it:

  curl -s -X POST ${url}/v1/responses \\
    -H "Authorization: Bearer ${apiKey}" -H "Content-Type: application/json" \\
    -d '{"model": "gpt-5-pro", "input": "Write a haiku about patience.", "background": true}'

  curl -s ${url}/v1/responses/<id from above> -H "Authorization: Bearer ${apiKey}"

Ctrl-C stops everything.
`);
}

function upstreamsBanner(config: ReturnType<typeof loadConfig>, simulator: Simulator | undefined): string {
  if (config.upstreams.source === "env")
    return simulator
      ? `Responses API simulator at ${simulator.url} (set OPENAI_API_KEY to use OpenAI)`
      : `OpenAI at ${config.openai.baseUrl}`;
  return config.upstreams.upstreams
    .map((u) => `${u.name} (${u.api}, ${u.background ? "background mode" : "relay worker"})`)
    .join(", ");
}

main().catch((error) => {
  if (error instanceof JavaMissingError || error instanceof DataDirInUseError) console.error(error.message);
  else console.error(error);
  process.exit(1);
});
