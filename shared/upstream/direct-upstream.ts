import OpenAI from "openai";
import type { Clock } from "#shared/clock.ts";
import { UpstreamAuthError, UpstreamRejectedError, UpstreamUnavailableError } from "#shared/errors.ts";
import type { DirectUpstream, StreamEvent } from "#shared/ports.ts";
import { ChatTranslator, chatRequest } from "./chat-completions.ts";
import { classifyUpstreamError } from "./classify-error.ts";
import { readSseData } from "./upstream-events.ts";

export interface DirectUpstreamOptions {
  baseUrl: string;
  /** `none`: a local server that takes no key (the SDK still needs a value; no header is sent). */
  keyHeader: "authorization" | "api-key" | "none";
  /** Read before each request (a secret with a max age in AWS), so a rotated key takes effect warm. */
  apiKey: () => Promise<string | undefined>;
  /** A held stream silent this long (real ms) is taken as broken. */
  idleMs: number;
  clock: Clock;
  fetch?: typeof fetch;
}

/** The official SDK, configured for one upstream, with its own retries off (a retry could bill twice). */
function client(options: DirectUpstreamOptions, apiKey: string | undefined): OpenAI {
  const key = apiKey ?? "none";
  const headers: Record<string, string | null> =
    options.keyHeader === "api-key"
      ? { "api-key": key, Authorization: null }
      : options.keyHeader === "none"
        ? { Authorization: null }
        : {};
  return new OpenAI({
    baseURL: options.baseUrl,
    apiKey: key,
    maxRetries: 0,
    // Until the reply's headers: a local server sends them with its first token, which can take
    // minutes on a long prompt. The idle limit below guards the stream itself.
    timeout: options.idleMs,
    fetch: options.fetch,
    defaultHeaders: headers,
  });
}

/** One SDK client per key value: rebuilt only when the key changes. */
class Clients {
  readonly #options: DirectUpstreamOptions;
  #current: { key: string | undefined; client: OpenAI } | null = null;
  constructor(options: DirectUpstreamOptions) {
    this.#options = options;
  }
  async get(): Promise<OpenAI> {
    const key = this.#options.keyHeader === "none" ? undefined : await this.#options.apiKey();
    if (this.#options.keyHeader !== "none" && !key) throw new UpstreamAuthError(401);
    if (!this.#current || this.#current.key !== key) this.#current = { key, client: client(this.#options, key) };
    return this.#current.client;
  }
}

async function send<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw classifyUpstreamError(error) ?? error;
  }
}

function parse(data: string): Record<string, unknown> {
  try {
    const value = JSON.parse(data) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new UpstreamUnavailableError("The upstream sent a stream event that is not a JSON object.", {});
}

function midStreamError(payload: Record<string, unknown>): UpstreamUnavailableError {
  const error = (payload.error ?? payload) as { message?: unknown };
  const message = typeof error.message === "string" ? error.message : "no message";
  return new UpstreamUnavailableError(`The upstream reported an error mid-stream: ${message}`, {});
}

const idSeed = (jobId: string) => jobId.replace(/^resp_/, "");

/**
 * A Responses API server without background mode (Ollama ≥ 0.13.3, LM Studio ≥ 0.3.29, and vLLM
 * when its in-memory background store is not wanted): the request is sent streaming, without
 * `background`, and held open; its events come through as they are (the worker renumbers them).
 */
export class ResponsesDirectUpstream implements DirectUpstream {
  readonly #clients: Clients;
  readonly #options: DirectUpstreamOptions;

  constructor(options: DirectUpstreamOptions) {
    this.#options = options;
    this.#clients = new Clients(options);
  }

  refusal(): string | null {
    return null;
  }

  async open(
    body: Record<string, unknown>,
    options: { signal: AbortSignal; jobId: string },
  ): Promise<AsyncIterable<StreamEvent>> {
    // `background` is dropped: Ollama ignores it and answers synchronously anyway; `store` too,
    // since nothing is ever read back from these servers.
    const { background: _b, store: _s, ...rest } = body;
    const sdk = await this.#clients.get();
    const response = await send(() =>
      sdk.responses.create({ ...rest, stream: true } as never, { signal: options.signal }).asResponse(),
    );
    const reading = { idleMs: this.#options.idleMs, signal: options.signal };
    return (async function* () {
      let seq = 0;
      for await (const data of readSseData(response.body, reading)) {
        const event = parse(data);
        if (event.type === "error") throw midStreamError(event);
        if (typeof event.type !== "string")
          throw new UpstreamUnavailableError("The upstream sent a stream event without a type.", {});
        yield { ...event, type: event.type, sequence_number: seq++ } as StreamEvent;
      }
    })();
  }
}

/**
 * A server that speaks only Chat Completions (llama.cpp's server, most OpenAI-compatible
 * gateways): the Responses request is translated, the chat stream held open and translated back
 * into Responses stream events (`./chat-completions.ts`).
 */
export class ChatCompletionsUpstream implements DirectUpstream {
  readonly #clients: Clients;
  readonly #options: DirectUpstreamOptions;

  constructor(options: DirectUpstreamOptions) {
    this.#options = options;
    this.#clients = new Clients(options);
  }

  refusal(body: Record<string, unknown>): string | null {
    const request = chatRequest(body);
    return request.ok ? null : `${request.message} (${request.param})`;
  }

  async open(
    body: Record<string, unknown>,
    options: { signal: AbortSignal; jobId: string },
  ): Promise<AsyncIterable<StreamEvent>> {
    const request = chatRequest(body);
    if (!request.ok)
      throw new UpstreamRejectedError(request.message, {
        status: 400,
        param: request.param,
        code: "unsupported_value",
      });
    const sdk = await this.#clients.get();
    const response = await send(() =>
      sdk.chat.completions.create(request.body as never, { signal: options.signal }).asResponse(),
    );
    const clock = this.#options.clock;
    const translator = new ChatTranslator({
      idSeed: idSeed(options.jobId),
      model: String(body.model),
      createdAt: Math.floor(clock.now() / 1000),
      now: () => Math.floor(clock.now() / 1000),
    });
    const reading = { idleMs: this.#options.idleMs, signal: options.signal };
    return (async function* () {
      yield* translator.opened();
      for await (const data of readSseData(response.body, reading)) {
        const chunk = parse(data);
        if (chunk.error) throw midStreamError(chunk);
        yield* translator.chunk(chunk);
      }
      if (options.signal.aborted) return;
      // A stream that closes before saying how it ended was cut (a crash, a proxy): not an answer.
      if (!translator.finished)
        throw new UpstreamUnavailableError("The upstream's chat stream ended without a finish reason.", {});
      yield* translator.end();
    })();
  }
}
