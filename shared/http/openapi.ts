/**
 * The OpenAPI document of the relay's HTTP API, written by hand (the surface is small and the
 * contract is the source of truth), and a readable page rendered from it without any CDN.
 */
import { JOB_STATUSES } from "#shared/domain/job.ts";

const errorRef = { $ref: "#/components/schemas/Error" };
const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((code) => [
      String(code),
      { description: ERROR_TEXT[code] ?? "Error", content: { "application/json": { schema: errorRef } } },
    ]),
  );
const ERROR_TEXT: Record<number, string> = {
  400: "Invalid input",
  401: "Missing or bad API key",
  404: "Unknown id (or another tenant's)",
  409: "Conflict: the job changed meanwhile, or an Idempotency-Key still in progress; retry",
  413: "Body too large",
  422: "Idempotency-Key reused with a different body",
  429: "Rate limited",
  502: "Upstream unavailable",
  504: "A blocking create is still running at the wait limit (the message names the job; it keeps running)",
};
const idParam = { name: "id", in: "path", required: true, schema: { type: "string" } };

export function openApiDocument() {
  return {
    openapi: "3.1.0",
    info: {
      title: "responses-relay",
      version: "0.1.0",
      description:
        "Runs long OpenAI Responses API requests in background mode for callers that cannot hold a connection open. Submit, then poll the status URL or wait for a signed webhook.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        Error: {
          type: "object",
          properties: {
            error: {
              type: "object",
              properties: {
                message: { type: "string" },
                type: { type: "string" },
                param: { type: ["string", "null"] },
                code: { type: ["string", "null"] },
              },
              required: ["message", "type", "param", "code"],
            },
          },
        },
        Response: {
          type: "object",
          description: "An OpenAI Response object plus the relay's `relay` block.",
          properties: {
            id: { type: "string" },
            object: { const: "response" },
            status: { enum: [...JOB_STATUSES] },
            created_at: { type: "integer" },
            completed_at: { type: ["integer", "null"] },
            model: { type: "string" },
            output: { type: "array", items: { type: "object" } },
            instructions: {},
            tools: { type: "array" },
            tool_choice: {},
            parallel_tool_calls: { type: "boolean" },
            temperature: { type: ["number", "null"] },
            top_p: { type: ["number", "null"] },
            background: { type: "boolean" },
            store: { type: "boolean" },
            previous_response_id: { type: ["string", "null"], description: "A relay job id" },
            usage: { type: ["object", "null"] },
            error: { type: ["object", "null"] },
            incomplete_details: { type: ["object", "null"] },
            metadata: { type: "object", additionalProperties: { type: "string" } },
            relay: {
              type: "object",
              properties: {
                upstream_id: { type: ["string", "null"] },
                status_label: { type: "string" },
                reason: {
                  type: ["object", "null"],
                  description:
                    "Why the relay itself ended the job: deadline_exceeded, queued_too_long, upstream_create_interrupted, upstream_not_found, upstream_rejected",
                },
                cost_usd: { type: ["number", "null"] },
                unpriced: { type: "boolean", description: "No price for the model: cost_usd stays null, never $0" },
                budget: {
                  type: ["object", "null"],
                  description: "relay.max_cost_usd as submitted, the counted input and the max_output_tokens sent",
                },
                deadline_at: { type: "integer" },
                ended_at: { type: ["integer", "null"] },
                status_url: { type: "string" },
                cancel_url: { type: "string" },
                webhook: { type: ["object", "null"] },
                last_upstream_error: { type: ["string", "null"] },
              },
            },
          },
        },
      },
    },
    security: [{ bearer: [] }],
    paths: {
      "/v1/responses": {
        post: {
          summary: "Create a response (run in background upstream, whatever the caller asks)",
          description:
            "An OpenAI `responses.create` body plus the relay's optional `webhook: {url, events}` and `relay: {max_cost_usd}` (a hard cap: the relay bounds `max_output_tokens` so the worst case fits, or answers 400). Over a tenant limit (request rate, pending jobs, streams, blocking waits): 429 with `Retry-After` and `x-ratelimit-*` headers; monthly spend limit reached: 429 `insufficient_quota`. With `background: true`: 202 at once with the queued job. With `stream: true`: 200 and the job's SSE stream. Otherwise: the request is held until the job ends and answers 200 with the finished Response, or 504 `response_still_running` naming the job when the front door's limit is near (an SDK retry, `x-stainless-retry-count` ≥ 1, attaches to the same job). `previous_response_id` names a relay job. Optional `Idempotency-Key` header (kept 24 h).",
          parameters: [
            { name: "Idempotency-Key", in: "header", required: false, schema: { type: "string", maxLength: 255 } },
          ],
          requestBody: {
            required: true,
            content: { "application/json": { schema: { type: "object", required: ["model"] } } },
          },
          responses: {
            "200": {
              description: "The finished Response (no `background`), or the SSE stream (`stream: true`)",
              content: {
                "application/json": { schema: { $ref: "#/components/schemas/Response" } },
                "text/event-stream": { schema: { type: "string" } },
              },
            },
            "202": {
              description: "Accepted (`background: true`); `Location` and `Retry-After` headers",
              content: { "application/json": { schema: { $ref: "#/components/schemas/Response" } } },
            },
            ...errors(400, 401, 413, 422, 429, 502, 504),
          },
        },
        get: {
          summary: "List your jobs, newest first",
          parameters: [
            { name: "status", in: "query", schema: { type: "string" } },
            { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 100, default: 20 } },
            { name: "after", in: "query", schema: { type: "string" }, description: "The last id of the previous page" },
          ],
          responses: {
            "200": { description: "A page: {object: list, data, first_id, last_id, has_more}" },
            ...errors(400, 401),
          },
        },
      },
      "/v1/responses/{id}": {
        get: {
          summary: "Status and final output, or the job's event stream",
          description:
            "With `stream=true`: server-sent events in OpenAI's framing (`event:`, `data:` with `sequence_number`, `id:`), resumable with `starting_after` or `Last-Event-ID` for the job's whole retention. `: relay status {…}` comment lines carry human status labels.",
          parameters: [
            idParam,
            { name: "stream", in: "query", schema: { type: "boolean" } },
            {
              name: "starting_after",
              in: "query",
              schema: { type: "integer", minimum: -1 },
              description: "Send events after this sequence number",
            },
            {
              name: "Last-Event-ID",
              in: "header",
              schema: { type: "string" },
              description: "Same as starting_after (what EventSource sends on reconnect)",
            },
          ],
          responses: {
            "200": {
              description: "The job (JSON), or its events (text/event-stream)",
              content: {
                "application/json": { schema: { $ref: "#/components/schemas/Response" } },
                "text/event-stream": { schema: { type: "string" } },
              },
            },
            ...errors(400, 401, 404),
          },
        },
      },
      "/v1/responses/{id}/deliveries": {
        get: {
          summary: "The webhook delivery log",
          parameters: [idParam],
          responses: {
            "200": { description: "{object: list, delivery: {webhook_id, state, …}, data: [attempts]}" },
            ...errors(401, 404),
          },
        },
      },
      "/v1/responses/{id}/deliveries/redeliver": {
        post: {
          summary: "Send the final webhook again (same webhook-id)",
          parameters: [idParam],
          responses: { "200": { description: "The delivery state after the attempt" }, ...errors(400, 401, 404, 409) },
        },
      },
      "/v1/webhooks/openai": {
        post: {
          summary: "OpenAI's own response.* webhooks (Standard Webhooks signature, no relay key)",
          security: [],
          responses: { "200": { description: "Received (or a recognised duplicate)" }, ...errors(400, 404) },
        },
      },
      "/v1/responses/{id}/cancel": {
        post: {
          summary: "Cancel (idempotent)",
          parameters: [idParam],
          responses: {
            "200": { description: "The job, cancelled or in the terminal state it already had" },
            ...errors(401, 404),
          },
        },
      },
      "/v1/relay/spend": {
        get: {
          summary: "Your recorded spend in a month (UTC), and your limits",
          parameters: [
            {
              name: "month",
              in: "query",
              schema: { type: "string", pattern: "^\\d{4}-\\d{2}$" },
              description: "YYYY-MM; default: this month",
            },
          ],
          responses: {
            "200": {
              description:
                "{object: relay.spend, month, cost_usd, priced_jobs, unpriced_jobs, unpriced_usage, monthly_limit_usd, remaining_usd, limits}",
            },
            ...errors(400, 401, 429),
          },
        },
      },
      "/health": { get: { summary: "Liveness", security: [], responses: { "200": { description: "ok" } } } },
    },
  };
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]!);

export function docsPage(): string {
  const doc = openApiDocument();
  const rows = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(
      ops as Record<
        string,
        { summary: string; description?: string; responses: Record<string, { description: string }> }
      >,
    ).map(
      ([method, op]) =>
        `<section><h2><code>${method.toUpperCase()} ${escapeHtml(path)}</code></h2><p><strong>${escapeHtml(op.summary)}</strong></p>` +
        (op.description ? `<p>${escapeHtml(op.description)}</p>` : "") +
        `<ul>${Object.entries(op.responses)
          .map(([code, r]) => `<li><code>${code}</code> ${escapeHtml(r.description)}</li>`)
          .join("")}</ul></section>`,
    ),
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>responses-relay API</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}section{border-top:1px solid #ddd;padding:.5rem 0}</style></head>
<body><h1>responses-relay API</h1><p>${escapeHtml(doc.info.description)}</p><p>Every <code>/v1</code> call needs <code>Authorization: Bearer &lt;relay key&gt;</code>. Errors use OpenAI's shape. Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>${rows.join("\n")}</body></html>`;
}
