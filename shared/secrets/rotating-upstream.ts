import { UpstreamAuthError } from "#shared/errors.ts";
import type { Upstream } from "#shared/ports.ts";

/**
 * An Upstream whose key is read (through a cache with a max age) on each call, rebuilding the
 * client when the key changes, so a rotated or revoked key takes effect without a cold start.
 * Without a usable key every call fails as the relay's credential fault: jobs stay pending and
 * submits answer 502 `upstream_auth_failed`, as for a key the upstream refused.
 */
export class RotatingUpstream implements Upstream {
  readonly #key: () => Promise<string | undefined>;
  readonly #build: (key: string) => Upstream;
  readonly #watches: boolean;
  #current: { key: string; upstream: Upstream } | null = null;

  /** `watches`: whether the clients `build` makes create responses streaming (`Upstream.canWatch`). */
  constructor(key: () => Promise<string | undefined>, build: (key: string) => Upstream, watches = false) {
    this.#key = key;
    this.#build = build;
    this.#watches = watches;
  }

  canWatch(): boolean {
    return this.#watches;
  }

  async #upstream(): Promise<Upstream> {
    const key = await this.#key();
    if (!key) throw new UpstreamAuthError(401);
    if (this.#current?.key !== key) this.#current = { key, upstream: this.#build(key) };
    return this.#current.upstream;
  }

  async create(body: Record<string, unknown>, context?: Parameters<Upstream["create"]>[1]) {
    return (await this.#upstream()).create(body, context);
  }
  async retrieve(id: string, options?: Parameters<Upstream["retrieve"]>[1]) {
    return (await this.#upstream()).retrieve(id, options);
  }
  async cancel(id: string) {
    return (await this.#upstream()).cancel(id);
  }
  async stream(id: string, options?: Parameters<Upstream["stream"]>[1]) {
    return (await this.#upstream()).stream(id, options);
  }
  async delete(id: string) {
    return (await this.#upstream()).delete(id);
  }
  async listInputItems(id: string, query: Parameters<Upstream["listInputItems"]>[1]) {
    return (await this.#upstream()).listInputItems(id, query);
  }
  async countInputTokens(body: Record<string, unknown>) {
    return (await this.#upstream()).countInputTokens(body);
  }
}
