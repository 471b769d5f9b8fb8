import type { ClientRequest, IncomingMessage } from "node:http";
import { subscribe } from "node:diagnostics_channel";
import {
  currentTrace,
  epochSeconds,
  newSegmentId,
  sendSubsegment,
  statusFlags,
  type Subsegment,
  type Trace,
} from "./xray.ts";

/**
 * A "remote" subsegment per outgoing HTTP request, from Node's diagnostics channels: `fetch`
 * (undici; the openai SDK reaches the upstream this way) and node:http(s) (webhook sends). Each
 * opens when the request starts and closes when the response headers arrive (a long stream's body
 * is not waited for) or the request ends without a response. Unlike the X-Ray SDK, no trace header
 * is added: these requests leave AWS, for OpenAI and the callers' receivers.
 */
export function traceOutgoingHttp(): void {
  traceFetch();
  traceNodeHttp();
}

interface OpenCall {
  trace: Trace;
  id: string;
  started: number;
  url: URL;
  method: string;
}

function open(url: URL, method: string): OpenCall | null {
  const trace = currentTrace();
  return trace?.sampled ? { trace, id: newSegmentId(), started: epochSeconds(), url, method } : null;
}

function close(call: OpenCall, outcome: { status?: number; length?: number; error?: Error }): void {
  sendSubsegment(call.trace, {
    id: call.id,
    name: call.url.hostname,
    namespace: "remote",
    start_time: call.started,
    end_time: epochSeconds(),
    http: {
      // Origin and path only: a query string may carry something the trace should not keep.
      request: { url: `${call.url.origin}${call.url.pathname}`, method: call.method },
      ...(outcome.status ? { response: { status: outcome.status, content_length: outcome.length } } : {}),
    },
    ...(outcome.error ? { error: true as const, ...withCause(outcome.error) } : statusFlags(outcome.status)),
  });
}

export const withCause = (error: Error): Pick<Subsegment, "cause"> => ({
  cause: { exceptions: [{ id: newSegmentId(), type: error.name, message: error.message, remote: true }] },
});

/** The undici request as its diagnostics channels describe it. */
interface UndiciRequest {
  origin: string | URL;
  path: string;
  method: string;
}

function traceFetch(): void {
  const calls = new WeakMap<UndiciRequest, OpenCall>();
  const take = (request: UndiciRequest) => {
    const call = calls.get(request);
    calls.delete(request);
    return call;
  };
  subscribe("undici:request:create", (message) => {
    const { request } = message as { request: UndiciRequest };
    if (request.method === "CONNECT") return;
    const call = URL.canParse(request.path, String(request.origin))
      ? open(new URL(request.path, request.origin), request.method)
      : null;
    if (call) calls.set(request, call);
  });
  subscribe("undici:request:headers", (message) => {
    const { request, response } = message as {
      request: UndiciRequest;
      response: { statusCode: number; headers: Buffer[] };
    };
    const call = take(request);
    if (call) close(call, { status: response.statusCode, length: contentLength(response.headers) });
  });
  subscribe("undici:request:error", (message) => {
    const { request, error } = message as { request: UndiciRequest; error: Error };
    const call = take(request);
    if (call) close(call, { error });
  });
}

/** undici hands response headers over as a flat [name, value, name, value, …] list of buffers. */
function contentLength(headers: Buffer[]): number | undefined {
  for (let i = 0; i + 1 < headers.length; i += 2)
    if (headers[i]!.toString("latin1").toLowerCase() === "content-length")
      return Number(headers[i + 1]!.toString()) || undefined;
  return undefined;
}

function traceNodeHttp(): void {
  const calls = new WeakMap<ClientRequest, OpenCall>();
  subscribe("http.client.request.start", (message) => {
    const { request } = message as { request: ClientRequest };
    // The AWS SDK's requests carry the trace header (its own middleware sets it in Lambda): they
    // have their subsegment from `instrument` already.
    if (request.getHeader("x-amzn-trace-id") !== undefined) return;
    const url = `${request.protocol}//${request.host}${request.path}`;
    const call = URL.canParse(url) ? open(new URL(url), request.method) : null;
    if (!call) return;
    calls.set(request, call);
    // No response at all (a refused connection, a timeout that destroyed the request): close it
    // as failed. 'close' is the one event every request ends with; listening adds no behaviour.
    request.once("close", () => {
      if (!calls.delete(request)) return;
      close(call, { error: Object.assign(new Error("no response"), { name: "RequestClosed" }) });
    });
  });
  subscribe("http.client.response.finish", (message) => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    const call = calls.get(request);
    if (!call || !calls.delete(request)) return;
    const length = Number(response.headers["content-length"]) || undefined;
    close(call, { status: response.statusCode, length });
  });
}
