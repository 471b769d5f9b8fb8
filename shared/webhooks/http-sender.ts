import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import type { WebhookRequest, WebhookResult, WebhookSender } from "#shared/ports.ts";
import { retryAfterMs } from "#shared/retry-after.ts";
import { hostOf, resolveAllowed, type Resolver } from "./address-policy.ts";

export interface HttpWebhookSenderOptions {
  allowPrivate: boolean;
  /** DNS, injectable so tests can play a rebinding resolver without any network. */
  resolve?: Resolver;
  /** Whole attempt, connect to last byte: a receiver has this long to answer 2xx. */
  timeoutMs?: number;
}

/** Read at most this much of a receiver's reply: it is only kept as a hint. */
const MAX_REPLY_BYTES = 20_000;

/**
 * Sends a webhook over node:http(s). The host is resolved once, every address checked, and the
 * socket connects to the checked address through the request's own `lookup` (no second lookup, so
 * DNS rebinding has nothing to rebind). Redirects are never followed: 3xx is a failed attempt.
 */
export class HttpWebhookSender implements WebhookSender {
  readonly #options: Required<Omit<HttpWebhookSenderOptions, "resolve">> & { resolve?: Resolver };
  constructor(options: HttpWebhookSenderOptions) {
    this.#options = { timeoutMs: 15_000, ...options };
  }

  async refusal(raw: string): Promise<string | null> {
    const url = new URL(raw);
    if (url.protocol !== "https:" && !(this.#options.allowPrivate && url.protocol === "http:")) {
      return `the scheme must be ${this.#options.allowPrivate ? "https or http" : "https"}`;
    }
    if (url.username || url.password) return "credentials in the URL are not allowed";
    try {
      await resolveAllowed(hostOf(url), this.#options);
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  }

  async send(request: WebhookRequest): Promise<WebhookResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const url = new URL(request.url);
    const schemeRefusal = url.protocol !== "https:" && !(this.#options.allowPrivate && url.protocol === "http:");
    if (schemeRefusal || url.username || url.password) {
      return {
        status: null,
        latencyMs: 0,
        error: `refused: ${url.protocol} URLs with credentials or a scheme other than https are not allowed`,
        retryAfterMs: null,
      };
    }
    let address: string;
    try {
      [address] = (await resolveAllowed(hostOf(url), this.#options)) as [string];
    } catch (error) {
      return { status: null, latencyMs: elapsed(), error: `refused: ${(error as Error).message}`, retryAfterMs: null };
    }
    const family = isIP(address);
    const pinned: LookupFunction = (_hostname, options, callback) => {
      // Node asks with `all: true` when it may try several addresses; answer the one we checked.
      if ((options as { all?: boolean }).all)
        (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
      else callback(null, address, family);
    };
    const transport = url.protocol === "https:" ? https : http;
    return new Promise<WebhookResult>((resolve) => {
      let settled = false;
      const finish = (result: Omit<WebhookResult, "latencyMs">) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        resolve({ ...result, latencyMs: elapsed() });
      };
      const req = transport.request(
        url,
        {
          method: "POST",
          headers: { ...request.headers, "content-length": String(Buffer.byteLength(request.body)) },
          lookup: pinned,
          agent: false,
        },
        (res) => {
          let read = 0;
          res.on("data", (chunk: Buffer) => {
            read += chunk.length;
            if (read > MAX_REPLY_BYTES) res.destroy();
          });
          const done = () =>
            finish({
              status: res.statusCode ?? null,
              error: res.statusCode && res.statusCode >= 200 && res.statusCode < 300 ? null : `HTTP ${res.statusCode}`,
              retryAfterMs: retryAfterMs(
                new Headers(
                  Object.entries(res.headers).flatMap(([k, v]) => (typeof v === "string" ? [[k, v]] : [])) as [
                    string,
                    string,
                  ][],
                ),
              ),
            });
          res.on("end", done);
          res.on("close", done);
          res.on("error", done);
        },
      );
      const timer = setTimeout(
        () => finish({ status: null, error: `timed out after ${this.#options.timeoutMs} ms`, retryAfterMs: null }),
        this.#options.timeoutMs,
      );
      req.on("error", (error) => finish({ status: null, error: error.message, retryAfterMs: null }));
      req.end(request.body);
    });
  }
}
