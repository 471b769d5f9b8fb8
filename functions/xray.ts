import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";

/**
 * The X-Ray wire, as the X-Ray SDK speaks it in Lambda, without the SDK (docs/decisions/0012-bundle-diet.md).
 * Lambda's active tracing opens each invocation's segment and hands its ids to the function in a
 * trace header; a function adds subsegments by sending each one, once closed, as a UDP datagram to
 * the X-Ray daemon that Lambda runs beside it: `{"format":"json","version":1}`, a newline, the
 * subsegment document. Sending is fire-and-forget: a lost datagram loses one subsegment, never a call.
 */

/** The invocation's trace: Lambda's `Root=…;Parent=…;Sampled=…` header. */
export interface Trace {
  root: string;
  /** The id of the segment Lambda opened for this invocation (subsegments hang under it). */
  parent: string | undefined;
  sampled: boolean;
}

/** What Lambda's Node.js runtime defines: the per-invocation store (several invocations may share a process). */
declare const awslambda: { InvokeStore?: { getXRayTraceId(): string | undefined } } | undefined;

/** The current invocation's trace, or null outside an invocation (or with active tracing off). */
export function currentTrace(): Trace | null {
  const header =
    (typeof awslambda === "undefined" ? undefined : awslambda?.InvokeStore?.getXRayTraceId()) ??
    process.env._X_AMZN_TRACE_ID;
  if (!header) return null;
  const fields = new Map(header.split(";").map((field) => field.split("=", 2) as [string, string]));
  const root = fields.get("Root");
  return root ? { root, parent: fields.get("Parent"), sampled: fields.get("Sampled") === "1" } : null;
}

/** A new 64-bit subsegment id, as X-Ray wants it: 16 hex digits. */
export const newSegmentId = (): string => randomBytes(8).toString("hex");

/** X-Ray times are seconds since the epoch, with fractions. */
export const epochSeconds = (): number => Date.now() / 1000;

/** The fields of a closed subsegment the relay records (X-Ray's segment document, subsegment kind). */
export interface Subsegment {
  id: string;
  name: string;
  namespace: "aws" | "remote";
  start_time: number;
  end_time: number;
  aws?: Record<string, string | number>;
  http?: { request?: { url: string; method: string }; response?: { status?: number; content_length?: number } };
  error?: true;
  fault?: true;
  throttle?: true;
  cause?: { exceptions: { id: string; type: string; message: string; remote: true }[] };
}

/** Status flags as X-Ray reads them: 429 is a throttle (and an error), other 4xx errors, 5xx faults. */
export function statusFlags(status: number | undefined): Pick<Subsegment, "error" | "fault" | "throttle"> {
  if (status === 429) return { error: true, throttle: true };
  if (status !== undefined && status >= 400 && status < 500) return { error: true };
  if (status !== undefined && status >= 500) return { fault: true };
  return {};
}

/** Where the daemon listens: AWS_XRAY_DAEMON_ADDRESS is `host:port` or `udp:host:port tcp:host:port`. */
function daemonAddress(): { host: string; port: number } {
  const raw = process.env.AWS_XRAY_DAEMON_ADDRESS?.trim() || "127.0.0.1:2000";
  const udp =
    raw
      .split(/\s+/)
      .find((part) => part.startsWith("udp:"))
      ?.slice(4) ?? raw;
  const colon = udp.lastIndexOf(":");
  return { host: udp.slice(0, colon) || "127.0.0.1", port: Number(udp.slice(colon + 1)) || 2000 };
}

const HEADER = '{"format":"json","version":1}\n';

/** Sends one closed subsegment of `trace` (only a sampled trace's: the others are not recorded). */
export function sendSubsegment(trace: Trace, subsegment: Subsegment): void {
  if (!trace.sampled) return;
  const doc = { ...subsegment, type: "subsegment", trace_id: trace.root, parent_id: trace.parent };
  const { host, port } = daemonAddress();
  // One socket per datagram, closed once it is sent, as the X-Ray SDK does in Lambda: nothing is
  // left open while the execution environment is frozen between invocations.
  const socket = createSocket("udp4");
  socket.unref();
  socket.send(HEADER + JSON.stringify(doc), port, host, () => socket.close());
}
