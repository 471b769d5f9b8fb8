import { endpointOf } from "#shared/domain/endpoint-health.ts";
import type { Job } from "#shared/domain/job.ts";

export interface DeliveryLaneLimits {
  /** Webhook sends in flight at once, in all. */
  total: number;
  /** In flight to one endpoint (a receiver's origin), whoever's jobs point there. */
  perEndpoint: number;
  /** In flight for one tenant, across its endpoints (a tenant with a hundred dead origins). */
  perTenant: number;
}

const DEFAULT_DELIVERY_LIMITS: DeliveryLaneLimits = { total: 64, perEndpoint: 4, perTenant: 16 };

interface Queued {
  job: Job;
  endpoint: string;
  send: () => Promise<void>;
}

/**
 * Webhook sends, off the poller's path: a tick hands a due delivery over and moves on, so a
 * receiver that takes its whole 15 s (or never answers) holds one slot of its own endpoint, not
 * the tick, not another tenant's work. Sends wait per endpoint in arrival order, and endpoints
 * take turns, so one endpoint's backlog never delays another's first send.
 */
export class DeliveryLane {
  readonly #limits: DeliveryLaneLimits;
  readonly #queues = new Map<string, Queued[]>(); // endpoint -> waiting sends, in insertion order of endpoints
  readonly #known = new Set<string>(); // job ids queued or in flight
  readonly #byEndpoint = new Map<string, number>();
  readonly #byTenant = new Map<string, number>();
  #inFlight = 0;
  #accepting = true;
  #idle: (() => void)[] = [];

  constructor(limits: Partial<DeliveryLaneLimits> = {}) {
    this.#limits = { ...DEFAULT_DELIVERY_LIMITS, ...limits };
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get waiting(): number {
    let n = 0;
    for (const queue of this.#queues.values()) n += queue.length;
    return n;
  }

  /**
   * Queues `send` for the job's webhook; false (and nothing queued) when the job is already in
   * the lane or the lane has stopped. `send` handles its own errors.
   */
  offer(job: Job, send: () => Promise<void>): boolean {
    if (!this.#accepting || !job.webhook || this.#known.has(job.id)) return false;
    const endpoint = endpointOf(job.webhook.url);
    this.#known.add(job.id);
    let queue = this.#queues.get(endpoint);
    if (!queue) this.#queues.set(endpoint, (queue = []));
    queue.push({ job, endpoint, send });
    this.#pump();
    return true;
  }

  /**
   * No new send starts from now on; what waits is dropped (returned, so the caller can forget
   * it: those deliveries are still due in the table, for the next poller).
   */
  stop(): Job[] {
    this.#accepting = false;
    const dropped: Job[] = [];
    for (const queue of this.#queues.values()) for (const q of queue) dropped.push(q.job);
    for (const job of dropped) this.#known.delete(job.id);
    this.#queues.clear();
    this.#wakeIfIdle();
    return dropped;
  }

  /** Resolves once nothing is in flight or waiting. */
  idle(): Promise<void> {
    if (this.#inFlight === 0 && this.waiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (this.#inFlight < this.#limits.total) {
      const next = this.#nextStartable();
      if (!next) return;
      this.#start(next);
    }
  }

  /** The first waiting send whose endpoint and tenant have a free slot; that endpoint goes to the back. */
  #nextStartable(): Queued | null {
    for (const [endpoint, queue] of this.#queues) {
      if ((this.#byEndpoint.get(endpoint) ?? 0) >= this.#limits.perEndpoint) continue;
      const index = queue.findIndex((q) => (this.#byTenant.get(q.job.tenantId) ?? 0) < this.#limits.perTenant);
      if (index === -1) continue;
      const [picked] = queue.splice(index, 1);
      // Round robin: this endpoint waits behind the others for its next turn.
      this.#queues.delete(endpoint);
      if (queue.length) this.#queues.set(endpoint, queue);
      return picked!;
    }
    return null;
  }

  #start(q: Queued): void {
    const tenant = q.job.tenantId;
    this.#inFlight++;
    this.#byEndpoint.set(q.endpoint, (this.#byEndpoint.get(q.endpoint) ?? 0) + 1);
    this.#byTenant.set(tenant, (this.#byTenant.get(tenant) ?? 0) + 1);
    void q
      .send()
      .catch(() => undefined)
      .finally(() => {
        this.#inFlight--;
        decrement(this.#byEndpoint, q.endpoint);
        decrement(this.#byTenant, tenant);
        this.#known.delete(q.job.id);
        if (this.#accepting) this.#pump();
        this.#wakeIfIdle();
      });
  }

  #wakeIfIdle(): void {
    if (this.#inFlight !== 0 || this.waiting !== 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const wake of waiters) wake();
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 1) - 1;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}
