import { streamHandle } from "hono/aws-lambda";
import { loadConfig } from "#shared/config.ts";
import { createApp } from "#shared/http/app.ts";
import { createDeps } from "#shared/runtime.ts";
import { readSecrets } from "./secrets.ts";

// Cold start: config validated and clients built once, reused by every invocation.
const config = loadConfig();
const secrets = await readSecrets(config);
const deps = createDeps(config, { openaiApiKey: secrets.openaiApiKey });
const app = createApp(deps, { maxBodyBytes: config.maxBodyBytes, openaiWebhookSecret: secrets.openaiWebhookSecret });

/**
 * The relay's API behind a Lambda function URL in RESPONSE_STREAM mode: the same routes as the
 * HTTP API, but replies are streamed, so `GET /v1/responses/{id}?stream=true` and
 * `POST /v1/responses` with `stream: true` are live, and replies may exceed 6 MB. A stream ends
 * cleanly a few seconds before the function's timeout; the caller resumes with Last-Event-ID.
 */
export const handler = streamHandle(app);
