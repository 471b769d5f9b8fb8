import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { compress } from "hono/compress";
import { PayloadTooLargeError, NotFoundError } from "#shared/errors.ts";
import { randomHex } from "#shared/ids.ts";
import { jsonLog, withLogContext } from "#shared/log.ts";
import type { Deps } from "#shared/ports.ts";
import { bearerAuth, type AuthEnv } from "./auth.ts";
import { MIN_COMPRESS_BYTES } from "./json-reply.ts";
import { tenantRateLimit } from "./limits.ts";
import { errorBody, errorResponse } from "./error-response.ts";
import { docsPage, openApiDocument } from "./openapi.ts";
import { deliveriesRoutes } from "#shared/http/routes/deliveries.ts";
import { openaiWebhookRoutes } from "#shared/http/routes/openai-webhooks.ts";
import { responseExtrasRoutes } from "#shared/http/routes/response-extras.ts";
import { relayRoutes } from "#shared/http/routes/relay.ts";
import { responsesRoutes } from "#shared/http/routes/responses.ts";

export interface AppOptions {
  maxBodyBytes: number;
  /** `whsec_…` for OpenAI's own webhooks; unset disables the endpoint. */
  openaiWebhookSecret?: string;
  log?: (event: Record<string, unknown>) => void;
  /** Where no front door bounds a request (the local stack): how long a blocking create waits. */
  localWaitMs?: number;
}

/**
 * The relay's HTTP API. The same app serves Lambda (functions/http-api.ts) and the local stack.
 */
export function createApp(deps: Deps, options: AppOptions) {
  const log = options.log ?? jsonLog;
  const app = new Hono<AuthEnv>();

  app.use(async (c, next) => {
    const requestId = `req_${randomHex(12)}`;
    c.header("x-request-id", requestId);
    // Every log line written while this request is served carries its id.
    await withLogContext({ requestId }, next);
  });
  app.onError((error, c) => errorResponse(error, c, log));
  app.notFound((c) =>
    c.json(
      errorBody(`Unknown request URL: ${c.req.method} ${c.req.path}.`, "invalid_request_error", null, "unknown_url"),
      404,
    ),
  );

  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get("/openapi.json", (c) => c.json(openApiDocument()));
  app.get("/docs", (c) => c.html(docsPage()));

  // A buffered Lambda reply stops at 6 MB: gzip (which the SDKs and fetch accept by default)
  // brings multi-megabyte outputs far below it. JSON only: event streams must flush as they go.
  // The routes answering Response objects encode their own replies (json-reply.ts); the threshold
  // applies only where a reply's length is known, which c.json's is not.
  app.use("/v1/*", compress({ contentTypeFilter: /^application\/json/, threshold: MIN_COMPRESS_BYTES }));
  const limitBody = bodyLimit({
    maxSize: options.maxBodyBytes,
    onError: () => {
      throw new PayloadTooLargeError(
        `The request body is larger than the relay accepts (${options.maxBodyBytes} bytes).`,
        { code: "request_too_large" },
      );
    },
  });
  // No GET or HEAD route reads a body, and looking for one makes Node's adapter build the full
  // Request it otherwise never needs (AbortController and all): 30–70 µs of CPU a status poll here.
  app.use("/v1/*", (c, next) => (c.req.method === "GET" || c.req.method === "HEAD" ? next() : limitBody(c, next)));
  // Verified by signature, not by a relay key.
  app.route("/v1/webhooks/openai", openaiWebhookRoutes(deps, { secret: options.openaiWebhookSecret, log }));
  // "/v1/responses/*" matches "/v1/responses" itself too: one registration, one key lookup.
  // Every front door (API Gateway, the stream function URL, the local stack) serves this app, so
  // the tenant's limits hold the same behind each of them.
  for (const path of ["/v1/responses/*", "/v1/relay/*"]) app.use(path, bearerAuth(deps.tenants), tenantRateLimit(deps));
  app.route("/v1/relay", relayRoutes(deps));
  app.route("/v1/responses", deliveriesRoutes(deps));
  app.route("/v1/responses", responseExtrasRoutes(deps));
  app.route("/v1/responses", responsesRoutes(deps, { localWaitMs: options.localWaitMs }));
  app.all("/v1/*", () => {
    throw new NotFoundError("Unknown request URL.", { code: "unknown_url" });
  });
  return app;
}
