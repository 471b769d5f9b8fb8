/**
 * The relay as a process the kill drill can SIGKILL: the HTTP app and a poller (invocation after
 * invocation, as EventBridge runs it) against an EXTERNAL DynamoDB Local table and an external
 * upstream, so the state and the world outside survive the kill.
 *
 *   node --import tsx test/drills/relay-process.ts
 *
 * env: DRILL_DYNAMO, DRILL_TABLE, DRILL_UPSTREAM, DRILL_PORT, DRILL_OPENAI_SECRET (whsec_…, optional),
 *      DRILL_T0 and DRILL_SPEED: time runs DRILL_SPEED× faster than the wall clock from DRILL_T0
 *      (the same formula in the test process drives the simulator), so grace periods, leases and
 *      delivery claims of minutes pass in seconds and every incarnation agrees on the time.
 * Prints "ready <url>" once it listens.
 */
import { serve } from "@hono/node-server";
import { loadConfig } from "#shared/config.ts";
import { createApp } from "#shared/http/app.ts";
import { Poller } from "#shared/poller/poller.ts";
import { createDeps } from "#shared/runtime.ts";
import { compressedClock } from "./time.ts";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

async function main() {
  const port = Number(env("DRILL_PORT"));
  const speed = Number(env("DRILL_SPEED"));
  const clock = compressedClock(Number(env("DRILL_T0")), speed);
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    RELAY_TABLE_NAME: env("DRILL_TABLE"),
    DYNAMODB_ENDPOINT: env("DRILL_DYNAMO"),
    OPENAI_BASE_URL: env("DRILL_UPSTREAM"),
    OPENAI_API_KEY: "sk-drill",
    // Optional: without it the relay cannot find a response whose create answer was lost.
    ...(process.env.DRILL_OPENAI_SECRET ? { OPENAI_WEBHOOK_SECRET: process.env.DRILL_OPENAI_SECRET } : {}),
    RELAY_PUBLIC_URL: url,
    RELAY_ALLOW_PRIVATE_WEBHOOKS: "true",
    // In compressed time: 60 s of grace is 3 s of wall time at 20× (a submit slowed by a busy
    // machine past it ends upstream_create_interrupted, which is allowed but proves less).
    RELAY_CREATE_GRACE_MS: process.env.DRILL_CREATE_GRACE_MS ?? "60000",
    ...(process.env.DRILL_CONFIRM_SLACK_MS ? { RELAY_CONFIRM_SLACK_MS: process.env.DRILL_CONFIRM_SLACK_MS } : {}),
  });
  const log = (event: Record<string, unknown>) => {
    if (event.level === "error" || process.env.DRILL_DEBUG) process.stderr.write(`${JSON.stringify(event)}\n`);
  };
  const deps = createDeps(config, { clock, log, events: { publish: async () => {} } });
  const app = createApp(deps, {
    maxBodyBytes: config.maxBodyBytes,
    openaiWebhookSecret: config.openaiWebhookSecret,
    log,
  });
  const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", () => resolve());
    server.once("error", reject);
  });
  process.stdout.write(`ready ${url}\n`);

  // Back-to-back invocations with short real budgets: leases are handed over often, as they are
  // when invocations overlap or one dies. Lease time is in compressed time (20 s = 1 s at 20×).
  for (;;) {
    // The stream watch as deployed (RELAY_WATCH_STREAMS is on by default); invocations here run one
    // after another, so each hands its streams over at once instead of holding them 5 s.
    await new Poller(deps, {
      tickMs: 100,
      leaseMs: 20_000,
      concurrency: 16,
      maxWatches: config.maxWatches,
      handoverMs: 0,
      log,
    })
      .run({ budgetMs: 3_000 })
      .catch((error) => log({ level: "error", msg: "invocation failed", error: String(error) }));
  }
}

main().catch((error) => {
  process.stderr.write(`relay process failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
