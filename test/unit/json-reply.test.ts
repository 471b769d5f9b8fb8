/**
 * The Response-object routes' reply encoding (shared/http/json-reply.ts) behind the same compress
 * middleware the app runs (shared/http/app.ts): the JSON `c.json` would send, compressed once and
 * only above the threshold, never twice.
 */
import { inflateSync, gunzipSync } from "node:zlib";
import { Hono } from "hono";
import { compress } from "hono/compress";
import { describe, expect, it } from "vitest";
import { jsonReply, MIN_COMPRESS_BYTES } from "#shared/http/json-reply.ts";

const small = { object: "response", id: "resp_1", text: "é".repeat(500) };
const large = { object: "response", id: "resp_2", output: [{ text: "lorem ipsum ".repeat(2_000) }] };
const huge = { object: "response", id: "resp_3", output: [{ text: "x".repeat(300_000) }] };
const bodies: Record<string, unknown> = { small, large, huge };

const app = new Hono();
app.use(compress({ contentTypeFilter: /^application\/json/, threshold: MIN_COMPRESS_BYTES }));
app.on(["GET", "HEAD"], "/reply/:name", (c) => jsonReply(c, bodies[c.req.param("name")], 202));
app.get("/json/:name", (c) => c.json(bodies[c.req.param("name")], 202));

const get = async (path: string, acceptEncoding?: string, method = "GET") => {
  const res = await app.request(path, { method, headers: acceptEncoding ? { "accept-encoding": acceptEncoding } : {} });
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
};

describe("jsonReply", () => {
  it("sends a small reply as it is, with its length, for any client", async () => {
    expect(Buffer.byteLength(JSON.stringify(small))).toBeLessThan(MIN_COMPRESS_BYTES);
    for (const accept of [undefined, "gzip", "gzip, deflate, br", "*"]) {
      const { res, bytes } = await get("/reply/small", accept);
      expect(res.status).toBe(202);
      expect(res.headers.get("content-encoding")).toBeNull();
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.headers.get("vary")).toBe("Accept-Encoding");
      expect(res.headers.get("content-length")).toBe(String(bytes.length));
      expect(bytes.toString("utf8")).toBe(JSON.stringify(small));
    }
  });

  it("compresses a large reply once, as the client asks, to exactly the JSON c.json sends", async () => {
    const plain = (await get("/json/large")).bytes.toString("utf8");
    expect(plain).toBe(JSON.stringify(large));
    for (const name of ["large", "huge"]) {
      const gz = await get(`/reply/${name}`, "gzip, deflate");
      expect(gz.res.headers.get("content-encoding")).toBe("gzip");
      expect(gz.res.headers.get("vary")).toBe("Accept-Encoding");
      expect(gunzipSync(gz.bytes).toString("utf8")).toBe(JSON.stringify(bodies[name]));
      const deflated = await get(`/reply/${name}`, "deflate");
      expect(deflated.res.headers.get("content-encoding")).toBe("deflate");
      expect(inflateSync(deflated.bytes).toString("utf8")).toBe(JSON.stringify(bodies[name]));
    }
    // Preferences are read as Hono's middleware reads them.
    expect((await get("/reply/large", "deflate;q=1, gzip;q=0.5")).res.headers.get("content-encoding")).toBe("deflate");
    expect((await get("/reply/large", "gzip;q=0, deflate;q=0")).res.headers.get("content-encoding")).toBeNull();
  });

  it("sends a large reply as it is to a client that accepts no encoding, and to HEAD", async () => {
    for (const accept of [undefined, "identity", "br"]) {
      const { res, bytes } = await get("/reply/large", accept);
      expect(res.headers.get("content-encoding")).toBeNull();
      expect(bytes.toString("utf8")).toBe(JSON.stringify(large));
    }
    const head = await get("/reply/large", "gzip", "HEAD");
    expect(head.res.headers.get("content-encoding")).toBeNull();
  });
});
