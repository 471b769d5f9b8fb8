/**
 * The jobs the simulator knows. Retrieval rules live here: deleted ids are gone, `store: false` responses
 * are never retrievable unless they run in background, and then only until ~10 min after they end.
 */
import type { Job } from "./job.ts";

/** How long a background `store: false` response stays pollable after it ends (late-2026 docs: ~10 min). */
export const STATELESS_RETENTION_MS = 10 * 60_000;

export class JobStore {
  readonly #jobs = new Map<string, Job>();

  add(job: Job): void {
    this.#jobs.set(job.id, job);
  }

  get(id: string, now: number): Job | undefined {
    const job = this.#jobs.get(id);
    if (!job || job.deleted) return undefined;
    if (!job.request.store && (!job.background || now > job.finishedAt + STATELESS_RETENTION_MS)) return undefined;
    return job;
  }

  delete(id: string): void {
    const job = this.#jobs.get(id);
    if (job) job.deleted = true;
    this.#jobs.delete(id);
  }

  values(): IterableIterator<Job> {
    return this.#jobs.values();
  }
}
