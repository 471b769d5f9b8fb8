import OpenAI from "openai";
import { UpstreamRejectedError, UpstreamUnavailableError } from "#shared/errors.ts";
import type {
  InputItemPage,
  InputItemQuery,
  InputTokenCount,
  StreamEvent,
  Upstream,
  UpstreamResponse,
  UpstreamStreamOptions,
} from "#shared/ports.ts";
import { classifyUpstreamError } from "./classify-error.ts";
import { keyHeaderFor, resolveBaseUrl, type KeyHeader } from "./base-url.ts";
import { readUpstreamEvents } from "./upstream-events.ts";

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
  /** A stream that sends nothing for this long (real ms) counts as dropped and is resumed. */
  streamIdleMs?: number;
  /**
   * How long the rest of a streaming create waits to be picked up by `stream()` before it is
   * closed. Never shorter than a few seconds: a client that dropped a background stream at its
   * very first event has been seen to leave the response stuck in `queued`
   * (docs/upstream-facts.md, "Statuses and the Response object").
   */
  streamHandoffMs?: number;
  /**
   * Create every response streaming (`stream: true`), whatever the caller asked, so the poller can
   * hold its stream and hear its end as it happens (`canWatch`). The caller's reply is the same:
   * the create answers with `response.created`'s Response, as a plain background create would.
   */
  watchCreates?: boolean;
}

/** The rest of a `stream: true` create, parked until this process's stream reader claims it. */
interface ParkedStream {
  first: StreamEvent;
  rest: AsyncGenerator<StreamEvent>;
  controller: AbortController;
  timer: NodeJS.Timeout;
  openedAt: number;
}

/** A streaming create is never dropped sooner than this after it opened (see `streamHandoffMs`). */
const MIN_CREATE_STREAM_MS = 3_000;

/**
 * The Responses API through the official SDK. The SDK's own retries are off: a retried POST could
 * start a second billed response, and the poller already retries on its own schedule.
 */
export class OpenAIUpstream implements Upstream {
  readonly client: OpenAI;
  readonly baseUrl: string;
  readonly #timeoutMs: number;
  readonly #streamIdleMs: number;
  readonly #handoffMs: number;
  readonly #watchCreates: boolean;
  readonly #parked = new Map<string, ParkedStream>();

  constructor(options: OpenAIUpstreamOptions) {
    this.#timeoutMs = options.timeoutMs ?? 20_000;
    this.#streamIdleMs = options.streamIdleMs ?? 120_000;
    this.#handoffMs = Math.max(5_000, options.streamHandoffMs ?? 15_000);
    this.#watchCreates = options.watchCreates ?? false;
    this.baseUrl = resolveBaseUrl(options.baseUrl);
    const header = options.keyHeader ?? keyHeaderFor(this.baseUrl);
    this.client = new OpenAI({
      baseURL: this.baseUrl,
      apiKey: options.apiKey,
      maxRetries: 0,
      timeout: this.#timeoutMs,
      fetch: options.fetch,
      // Azure keys go in `api-key`; the bearer header is cleared so no key travels twice.
      defaultHeaders: header === "api-key" ? { "api-key": options.apiKey, Authorization: null } : undefined,
    });
  }

  /**
   * With `stream: true` in the body (a caller asked the relay for a live stream), the upstream
   * response is created streaming, which is what the background guide requires for streaming it
   * later: the `response.created` event is the answer, and the rest of the stream is parked for
   * `stream()` to pick up.
   */
  async create(request: Record<string, unknown>): Promise<UpstreamResponse> {
    const body = this.#watchCreates && request.stream !== true ? { ...request, stream: true } : request;
    if (body.stream !== true) return this.#call(() => this.client.responses.create(body as never));
    const controller = new AbortController();
    const response = await this.#call(() =>
      this.client.responses.create(body as never, { signal: controller.signal }).asResponse(),
    );
    const events = readUpstreamEvents((response as unknown as Response).body, {
      idleMs: this.#streamIdleMs,
      signal: controller.signal,
    });
    let first: IteratorResult<StreamEvent>;
    // response.created comes at once; waiting longer than a plain call would is pointless.
    const giveUp = setTimeout(() => controller.abort(), this.#timeoutMs);
    try {
      first = await events.next();
    } catch (error) {
      // The request reached the upstream: whether a response exists is unknown.
      throw new UpstreamUnavailableError(
        `The upstream create stream broke off before response.created (${(error as Error).message}).`,
        { ambiguous: true, cause: error },
      );
    } finally {
      clearTimeout(giveUp);
    }
    const created = first.done ? undefined : (first.value.response as UpstreamResponse | undefined);
    if (first.done || first.value.type !== "response.created" || !created?.id) {
      controller.abort();
      throw new UpstreamUnavailableError(
        `The upstream create stream did not open with response.created${first.done ? "" : ` (got ${first.value.type})`}.`,
        { ambiguous: true },
      );
    }
    const timer = setTimeout(() => {
      this.#parked.delete(created.id);
      controller.abort();
    }, this.#handoffMs);
    timer.unref();
    this.#parked.set(created.id, { first: first.value, rest: events, controller, timer, openedAt: Date.now() });
    return created;
  }

  canWatch(): boolean {
    return this.#watchCreates;
  }

  async retrieve(id: string, options: { include?: readonly string[] } = {}): Promise<UpstreamResponse> {
    const query = options.include?.length ? { include: [...options.include] } : {};
    return this.#call(() => this.client.responses.retrieve(id, query as never));
  }

  async cancel(id: string): Promise<UpstreamResponse> {
    return this.#call(() => this.client.responses.cancel(id));
  }

  async stream(id: string, options: UpstreamStreamOptions = {}): Promise<AsyncIterable<StreamEvent>> {
    const parked = this.#parked.get(id);
    if (parked) {
      // The rest of this process's own streaming create: it starts at event 0, and the reader
      // drops whatever it already has.
      this.#parked.delete(id);
      clearTimeout(parked.timer);
      return prepend(parked, options.signal);
    }
    const query: Record<string, unknown> = { stream: true };
    if (options.startingAfter !== undefined && options.startingAfter >= 0) query.starting_after = options.startingAfter;
    const response = await this.#call(() =>
      this.client.responses.retrieve(id, query as never, { signal: options.signal }).asResponse(),
    );
    return readUpstreamEvents((response as unknown as Response).body, {
      idleMs: this.#streamIdleMs,
      signal: options.signal,
    });
  }

  async delete(id: string): Promise<void> {
    try {
      await this.client.responses.delete(id);
    } catch (error) {
      const classified = classifyUpstreamError(error);
      // Already deleted, or past the upstream's retention: what the caller asked for is true.
      if (classified instanceof UpstreamRejectedError && classified.status === 404) return;
      throw classified;
    }
  }

  async listInputItems(id: string, query: InputItemQuery): Promise<InputItemPage> {
    // The raw page: the SDK's page object would be rebuilt into the same JSON anyway.
    const response = await this.#send(() => this.client.responses.inputItems.list(id, query as never).asResponse());
    return (await response.json()) as InputItemPage;
  }

  async countInputTokens(body: Record<string, unknown>): Promise<InputTokenCount> {
    return this.#send(() => this.client.responses.inputTokens.count(body as never));
  }

  async #call(run: () => Promise<unknown>): Promise<UpstreamResponse> {
    return (await this.#send(run)) as UpstreamResponse;
  }

  async #send<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw classifyUpstreamError(error) ?? error;
    }
  }
}

async function* prepend(parked: ParkedStream, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
  const close = () => {
    const wait = parked.openedAt + MIN_CREATE_STREAM_MS - Date.now();
    if (wait <= 0) return parked.controller.abort();
    setTimeout(() => parked.controller.abort(), wait).unref();
  };
  signal?.addEventListener("abort", close, { once: true });
  try {
    yield parked.first;
    yield* parked.rest;
  } finally {
    signal?.removeEventListener("abort", close);
    close();
  }
}
