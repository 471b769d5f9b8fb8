/**
 * OpenAI's own project webhooks (docs/upstream-facts.md, "OpenAI's own webhooks"): a thin
 * `response.*` event signed per Standard Webhooks, sent when a background response reaches a terminal state. Job states are lazy functions of the clock, so a small
 * real-time ticker notices transitions, whether the clock is real or a test's ManualClock.
 */
import { Webhook } from "standardwebhooks";
import { toUnixSeconds, type Clock } from "#shared/clock.ts";
import { isTerminal, type Job } from "./job.ts";
import { randomId } from "./random.ts";
import type { StatsCounter } from "./stats.ts";
import { sleep } from "./ticker.ts";
import type { WebhookConfig } from "./types.ts";

const RETRY_DELAYS_MS = [250, 1000];
const ATTEMPT_TIMEOUT_MS = 10_000;

export class WebhookNotifier {
  #config: WebhookConfig | null = null;
  readonly #watching = new Set<Job>();
  readonly #timer: NodeJS.Timeout;
  /** Aborts in-flight deliveries on close, so closing never waits on a slow receiver. */
  readonly #abort = new AbortController();
  #closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly stats: StatsCounter,
    private readonly log: (line: string) => void,
    periodMs = 50,
  ) {
    this.#timer = setInterval(() => this.#scan(), periodMs);
    this.#timer.unref();
  }

  configure(config: WebhookConfig | null): void {
    if (config) new Webhook(config.secret); // fail fast on a malformed secret
    this.#config = config;
  }

  /** Only background responses fire webhooks. */
  watch(job: Job): void {
    if (job.background) this.#watching.add(job);
  }

  /** Check now instead of at the next tick (used right after a cancel). */
  poke(): void {
    this.#scan();
  }

  #scan(): void {
    if (this.#closed) return;
    const now = this.clock.now();
    for (const job of this.#watching) {
      if (job.deleted) {
        this.#watching.delete(job);
        continue;
      }
      const status = job.statusAt(now);
      if (!isTerminal(status)) continue;
      this.#watching.delete(job);
      // Transitions while no webhook is configured are consumed silently, like a project without an endpoint.
      const config = this.#config;
      if (config) void this.#deliver(config, job, status);
    }
  }

  async #deliver(config: WebhookConfig, job: Job, status: string): Promise<void> {
    const webhookId = randomId("wh_", 16);
    const body = JSON.stringify({
      object: "event",
      id: randomId("evt_", 16),
      type: `response.${status}`,
      created_at: toUnixSeconds(job.finishedAt),
      data: { id: job.id },
    });
    if (config.delayMs) await sleep(config.delayMs);
    const copies = 1 + (config.duplicates ?? 0);
    for (let copy = 0; copy < copies && !this.#closed; copy++) await this.#sendWithRetries(config, webhookId, body);
  }

  async #sendWithRetries(config: WebhookConfig, webhookId: string, body: string): Promise<void> {
    const signer = new Webhook(config.secret);
    const delays = config.retryDelaysMs ?? RETRY_DELAYS_MS;
    for (let attempt = 0; attempt <= delays.length && !this.#closed; attempt++) {
      if (attempt > 0) await sleep(delays[attempt - 1]!);
      // A fresh timestamp per attempt, the webhook-id stays, as Standard Webhooks requires.
      const timestamp = new Date((config.timestampClock ?? { now: () => Date.now() }).now());
      try {
        const res = await fetch(config.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "user-agent": "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)",
            "webhook-id": webhookId,
            "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
            "webhook-signature": signer.sign(webhookId, timestamp, body),
          },
          body,
          redirect: "manual",
          signal: AbortSignal.any([AbortSignal.timeout(ATTEMPT_TIMEOUT_MS), this.#abort.signal]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) {
          this.stats.webhookDelivered();
          this.log(`webhook ${webhookId} -> ${config.url} ${res.status}`);
          return;
        }
        this.log(`webhook ${webhookId} -> ${config.url} ${res.status}, will retry`);
      } catch (err) {
        if (this.#closed) return;
        this.log(`webhook ${webhookId} -> ${config.url} failed: ${(err as Error).message}`);
      }
      this.stats.webhookFailed();
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#abort.abort();
  }
}
