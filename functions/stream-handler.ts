import { once } from "node:events";
import type { Writable } from "node:stream";
import type { Context, LambdaFunctionURLEvent } from "aws-lambda";
import type { Hono } from "hono";
import { jsonLog, withLogContext } from "#shared/log.ts";

/** What the Node.js Lambda runtime (and aws-lambda-ric) defines globally for streaming handlers. */
declare const awslambda: {
  streamifyResponse(fn: (event: LambdaFunctionURLEvent, stream: Writable, context: Context) => Promise<void>): unknown;
  HttpResponseStream: {
    from(
      stream: Writable,
      metadata: { statusCode: number; headers: Record<string, string>; cookies: string[] },
    ): Writable;
  };
};

/** The Request a function URL event describes, aborted through `signal` when the client goes. */
export function requestFromFunctionUrl(event: LambdaFunctionURLEvent, signal: AbortSignal): Request {
  const query = event.rawQueryString ? `?${event.rawQueryString}` : "";
  const url = `https://${event.requestContext.domainName}${event.rawPath}${query}`;
  const headers = new Headers();
  for (const [name, value] of Object.entries(event.headers ?? {})) if (value !== undefined) headers.set(name, value);
  if (event.cookies?.length) headers.set("cookie", event.cookies.join("; "));
  const method = event.requestContext.http.method;
  const hasBody = method !== "GET" && method !== "HEAD" && event.body !== undefined;
  const body = hasBody ? (event.isBase64Encoded ? Buffer.from(event.body!, "base64") : event.body) : undefined;
  return new Request(url, { method, headers, body, signal });
}

/**
 * A RESPONSE_STREAM handler for the Hono app, in place of hono/aws-lambda's `streamHandle`, which
 * keeps reading the reply after the client is gone (its pipeline never cancels the body), so a
 * live stream would run on, reading DynamoDB and the upstream, until the 15-minute timeout. Here
 * the runtime's stream closing or failing (the client disconnected) aborts the request's signal
 * and cancels the reply body, which stops the stream's work at once.
 */
export function streamingHandler(app: () => Promise<Pick<Hono, "fetch">>) {
  return awslambda.streamifyResponse(async (event, responseStream, context) =>
    withLogContext({ awsRequestId: context.awsRequestId }, async () => {
      const controller = new AbortController();
      let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
      let ended = false;
      const gone = () => {
        if (ended) return;
        controller.abort();
        void reader?.cancel().catch(() => undefined);
      };
      responseStream.once("close", gone);
      responseStream.once("error", gone);
      const response = await (await app()).fetch(requestFromFunctionUrl(event, controller.signal), {
        event,
        requestContext: event.requestContext,
        context,
      });
      const headers: Record<string, string> = {};
      const cookies: string[] = [];
      response.headers.forEach((value, name) => {
        if (name === "set-cookie") cookies.push(value);
        else headers[name] = value;
      });
      const out = awslambda.HttpResponseStream.from(responseStream, { statusCode: response.status, headers, cookies });
      try {
        if (response.body) {
          reader = response.body.getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done || controller.signal.aborted) break;
            if (!out.write(value)) await Promise.race([once(out, "drain"), once(out, "close")]);
          }
        }
      } catch (error) {
        // Reading a cancelled body, or writing to a closed stream: the client has gone.
        if (!controller.signal.aborted)
          jsonLog({ level: "error", msg: "stream reply failed", error: (error as Error).message });
      } finally {
        if (controller.signal.aborted) jsonLog({ level: "info", msg: "client disconnected; stream work stopped" });
        ended = true;
        void reader?.cancel().catch(() => undefined);
        out.end();
      }
    }),
  );
}
