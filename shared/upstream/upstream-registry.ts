import { UpstreamRejectedError } from "#shared/errors.ts";
import type {
  CreateContext,
  InputItemPage,
  InputItemQuery,
  InputTokenCount,
  StreamEvent,
  Upstream,
  UpstreamResponse,
  UpstreamStreamOptions,
} from "#shared/ports.ts";

export interface RegistryOptions {
  /** Every configured upstream by name (an emulated one is the relay's own worker pool). */
  upstreams: ReadonlyMap<string, Upstream>;
  /** Its ids are stored as the upstream gives them; every other upstream's carry `<name>:`. */
  primary: string | null;
  /** The upstream serving a model (the model catalog's answer), or null when none does. */
  route(model: string): string | null;
}

/**
 * Several upstreams behind the one Upstream port. A create goes where the model is routed, and
 * the id it returns carries the upstream's name (`ollama:resp_…`), so every later call on that id
 * (poll, cancel, stream, delete, input items) reaches the same upstream without the callers
 * knowing there is more than one. The primary upstream's ids stay bare: jobs stored before
 * upstreams were configurable, and OpenAI's webhooks (which name bare ids), still find theirs.
 */
export class UpstreamRegistry implements Upstream {
  readonly #upstreams: ReadonlyMap<string, Upstream>;
  readonly #primary: string | null;
  readonly #route: (model: string) => string | null;

  constructor(options: RegistryOptions) {
    this.#upstreams = options.upstreams;
    this.#primary = options.primary;
    this.#route = options.route;
  }

  /** The upstream an id belongs to and the id as that upstream knows it. */
  locate(id: string): { name: string; upstream: Upstream; raw: string } {
    const colon = id.indexOf(":");
    const prefix = colon > 0 ? id.slice(0, colon) : null;
    if (prefix !== null && prefix !== this.#primary && this.#upstreams.has(prefix))
      return { name: prefix, upstream: this.#upstreams.get(prefix)!, raw: id.slice(colon + 1) };
    const primary = this.#primary === null ? undefined : this.#upstreams.get(this.#primary);
    // An id of no known upstream: the upstream it came from is no longer configured.
    if (!primary)
      throw new UpstreamRejectedError(`No configured upstream holds the response ${id}.`, {
        status: 404,
        type: "invalid_request_error",
        code: null,
        param: null,
      });
    return { name: this.#primary!, upstream: primary, raw: id };
  }

  #tag(name: string, response: UpstreamResponse): UpstreamResponse {
    return name === this.#primary ? response : { ...response, id: `${name}:${response.id}` };
  }

  #forModel(body: Record<string, unknown>): { name: string; upstream: Upstream } {
    const model = typeof body.model === "string" ? body.model : "";
    const name = this.#route(model);
    const upstream = name === null ? undefined : this.#upstreams.get(name);
    if (!upstream || name === null)
      throw refused(`The model '${model}' is not served by this relay.`, "model", "model_not_found");
    return { name, upstream };
  }

  async create(body: Record<string, unknown>, context?: CreateContext): Promise<UpstreamResponse> {
    const { name, upstream } = this.#forModel(body);
    const forwarded = { ...body };
    const previous = body.previous_response_id;
    if (typeof previous === "string") {
      // A chain continues on the upstream that holds its previous turn, or not at all.
      const located = this.locate(previous);
      if (located.name !== name)
        throw refused(
          `previous_response_id names a response of another upstream ('${located.name}'); model '${String(body.model)}' is served by '${name}'.`,
          "previous_response_id",
          "previous_response_not_found",
        );
      forwarded.previous_response_id = located.raw;
    }
    return this.#tag(name, await upstream.create(forwarded, context));
  }

  async retrieve(id: string, options?: { include?: readonly string[] }): Promise<UpstreamResponse> {
    const { name, upstream, raw } = this.locate(id);
    return this.#tag(name, await upstream.retrieve(raw, options));
  }

  async cancel(id: string): Promise<UpstreamResponse> {
    const { name, upstream, raw } = this.locate(id);
    return this.#tag(name, await upstream.cancel(raw));
  }

  async stream(id: string, options?: UpstreamStreamOptions): Promise<AsyncIterable<StreamEvent>> {
    const { upstream, raw } = this.locate(id);
    return upstream.stream(raw, options);
  }

  canWatch(id: string): boolean {
    try {
      const { upstream, raw } = this.locate(id);
      return upstream.canWatch(raw);
    } catch {
      return false; // its upstream is no longer configured: nothing to watch
    }
  }

  async delete(id: string): Promise<void> {
    const { upstream, raw } = this.locate(id);
    return upstream.delete(raw);
  }

  async listInputItems(id: string, query: InputItemQuery): Promise<InputItemPage> {
    const { upstream, raw } = this.locate(id);
    return upstream.listInputItems(raw, query);
  }

  async countInputTokens(body: Record<string, unknown>): Promise<InputTokenCount> {
    const { name, upstream } = this.#forModel(body);
    const forwarded = { ...body };
    if (typeof body.previous_response_id === "string") {
      const located = this.locate(body.previous_response_id);
      if (located.name === name) forwarded.previous_response_id = located.raw;
    }
    return upstream.countInputTokens(forwarded);
  }
}

/** A refusal in the upstream's terms, so a submit answers it as a 400 and keeps no job. */
const refused = (message: string, param: string, code: string) =>
  new UpstreamRejectedError(message, { status: 400, type: "invalid_request_error", param, code });
