import type { Job } from "#shared/domain/job.ts";
import type { JobStore } from "#shared/ports.ts";

export interface Transition {
  jobId: string;
  from: string;
  to: string;
}

/**
 * Records every status change the store commits (submit, pollers, cancel all write through it),
 * to prove no transition happens twice. Wraps the real store; nothing is faked.
 */
export function recordTransitions(store: JobStore): Transition[] {
  const log: Transition[] = [];
  const update = store.update.bind(store);
  store.update = async (job: Job, changes: Partial<Job>, dueAt?: number | null) => {
    const next = await update(job, changes, dueAt);
    if (changes.status && changes.status !== job.status)
      log.push({ jobId: job.id, from: job.status, to: changes.status });
    return next;
  };
  return log;
}
