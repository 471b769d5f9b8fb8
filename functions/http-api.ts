import { handle } from "hono/aws-lambda";
import { loadConfig } from "#shared/config.ts";
import { createApp } from "#shared/http/app.ts";
import { createDeps } from "#shared/runtime.ts";
import { readSecrets } from "./secrets.ts";

// Cold start: config validated and clients built once, reused by every invocation.
const config = loadConfig();
const secrets = await readSecrets(config);
const deps = createDeps(config, { openaiApiKey: secrets.openaiApiKey });
const app = createApp(deps, { maxBodyBytes: config.maxBodyBytes, openaiWebhookSecret: secrets.openaiWebhookSecret });

/** The relay's HTTP API (submit, status, cancel, list) behind API Gateway or a function URL. */
export const handler = handle(app);
