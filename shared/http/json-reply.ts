import { promisify } from "node:util";
import { deflate, deflateSync, gzip, gzipSync } from "node:zlib";
import type { Context } from "hono";
import { parseAccept } from "hono/utils/accept";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * Under this a reply goes as it is. A gzip stream costs about the same on both ends whatever the
 * size (most of a millisecond of CPU for Node's fetch to inflate a 2 KB status reply, the SDKs'
 * client), while what it saves is a few KB at most here, inside TCP's initial window either way.
 * Above it the bytes saved start to count, and a multi-megabyte output must shrink below Lambda's
 * 6 MB buffered-reply limit.
 */
export const MIN_COMPRESS_BYTES = 8 * 1024;
/** Over this a reply is compressed on libuv's thread pool, not on the event loop. */
const SYNC_COMPRESS_BYTES = 64 * 1024;
const ENCODINGS = ["gzip", "deflate"] as const;
type Encoding = (typeof ENCODINGS)[number];
const compressLater = { gzip: promisify(gzip), deflate: promisify(deflate) };
const compressNow = { gzip: gzipSync, deflate: deflateSync };

/**
 * What `c.json` answers, encoded in one step, for the routes that answer Response objects (the
 * status read above all). The compress middleware in app.ts (Hono's) pipes a JSON reply through a
 * CompressionStream, which on a small status reply cost more than the rest of the route, and a
 * reply of unknown length is compressed however small. Same JSON, same `Content-Type` and `Vary`,
 * the encoding chosen as that middleware chooses it; the middleware leaves these replies alone
 * (encoded, or with a length under its threshold, which is this one, or for a client that accepts
 * neither encoding).
 */
export async function jsonReply(c: Context, value: unknown, status: ContentfulStatusCode = 200): Promise<Response> {
  const json = Buffer.from(JSON.stringify(value), "utf8");
  const headers: Record<string, string> = { "Content-Type": "application/json", Vary: "Accept-Encoding" };
  const encoding =
    c.req.method === "HEAD" || json.length < MIN_COMPRESS_BYTES
      ? undefined
      : selectEncoding(c.req.header("Accept-Encoding"));
  if (!encoding) return c.body(json, status, { ...headers, "Content-Length": String(json.length) });
  const packed = json.length > SYNC_COMPRESS_BYTES ? await compressLater[encoding](json) : compressNow[encoding](json);
  return c.body(packed, status, { ...headers, "Content-Encoding": encoding, "Content-Length": String(packed.length) });
}

/** As hono/compress picks: an encoding at q=1 at once, else the highest q above 0 (gzip first on a tie). */
function selectEncoding(header: string | undefined): Encoding | undefined {
  if (header === undefined) return undefined;
  const accepts = parseAccept(header);
  const wildcard = accepts.find((a) => a.type === "*")?.q;
  let best: { encoding: Encoding; q: number } | undefined;
  for (const encoding of ENCODINGS) {
    const explicit = accepts.find((a) => a.type.toLowerCase() === encoding);
    const q = explicit ? explicit.q : (wildcard ?? 0);
    if (q === 1) return encoding;
    if (q > 0 && (!best || q > best.q)) best = { encoding, q };
  }
  return best?.encoding;
}
