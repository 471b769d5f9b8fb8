import OpenAI from "openai";
import type { Upstream, UpstreamResponse } from "#shared/ports.ts";
import { classifyUpstreamError } from "./classify-error.ts";
import { keyHeaderFor, resolveBaseUrl, type KeyHeader } from "./base-url.ts";

export interface OpenAIUpstreamOptions {
  apiKey: string;
  baseUrl?: string;
  keyHeader?: KeyHeader;
  /**
   * Per-call timeout. A background create or a retrieve answers in well under this, and it must
   * stay below the HTTP front door's 30 s so a slow upstream still gets the caller a clean answer.
   */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * The Responses API through the official SDK. The SDK's own retries are off: a retried POST could
 * start a second billed response, and the poller already retries on its own schedule.
 */
export class OpenAIUpstream implements Upstream {
  readonly client: OpenAI;
  readonly baseUrl: string;

  constructor(options: OpenAIUpstreamOptions) {
    this.baseUrl = resolveBaseUrl(options.baseUrl);
    const header = options.keyHeader ?? keyHeaderFor(this.baseUrl);
    this.client = new OpenAI({
      baseURL: this.baseUrl,
      apiKey: options.apiKey,
      maxRetries: 0,
      timeout: options.timeoutMs ?? 20_000,
      fetch: options.fetch,
      // Azure keys go in `api-key`; the bearer header is cleared so no key travels twice.
      defaultHeaders: header === "api-key" ? { "api-key": options.apiKey, Authorization: null } : undefined,
    });
  }

  async create(body: Record<string, unknown>): Promise<UpstreamResponse> {
    return this.#call(() => this.client.responses.create(body as never));
  }

  async retrieve(id: string): Promise<UpstreamResponse> {
    return this.#call(() => this.client.responses.retrieve(id));
  }

  async cancel(id: string): Promise<UpstreamResponse> {
    return this.#call(() => this.client.responses.cancel(id));
  }

  async #call(run: () => Promise<unknown>): Promise<UpstreamResponse> {
    try {
      return (await run()) as UpstreamResponse;
    } catch (error) {
      throw classifyUpstreamError(error);
    }
  }
}
