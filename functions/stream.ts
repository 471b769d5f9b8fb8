import { bootstrap } from "./bootstrap.ts";
import { currentApp } from "./current-app.ts";
import { streamingHandler } from "./stream-handler.ts";

const runtime = bootstrap();

/**
 * The relay's API behind a Lambda function URL in RESPONSE_STREAM mode: the same routes as the
 * HTTP API, but replies are streamed, so `GET /v1/responses/{id}?stream=true` and
 * `POST /v1/responses` with `stream: true` are live, and replies may exceed 6 MB. A stream ends
 * cleanly a few seconds before the function's timeout (the caller resumes with Last-Event-ID),
 * and at once when the client disconnects.
 */
export const handler = streamingHandler(currentApp(runtime));
