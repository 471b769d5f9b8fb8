import type { Job } from "#shared/domain/job.ts";
import { VersionConflictError } from "#shared/errors.ts";
import type { Deps } from "#shared/ports.ts";

/**
 * How many times a use case re-reads a job and tries again after losing a write race. Every job
 * write is conditional on the version it read; a conflict means another writer (a poller, a
 * cancel, an OpenAI webhook) moved the job first, so the move is re-decided on the fresh item.
 * Five is plenty: writers to one job are a handful, and each loses at most to the others once.
 */
const CONFLICT_TRIES = 5;

/**
 * Runs `attempt` on `job`, and on a version conflict on the job read fresh, up to `tries` times.
 * `attempt` returns its result, or `undefined`-free values only; a job gone meanwhile ends the
 * loop with `onGone()`. The last conflict is rethrown (the HTTP layer answers it 409).
 */
export async function retryOnConflict<T>(
  job: Job,
  deps: Deps,
  attempt: (current: Job) => Promise<T>,
  options: { tries?: number; onGone: () => T | Promise<T> },
): Promise<T> {
  const tries = options.tries ?? CONFLICT_TRIES;
  let current = job;
  for (let round = 1; ; round++) {
    try {
      return await attempt(current);
    } catch (error) {
      if (!(error instanceof VersionConflictError) || round >= tries) throw error;
    }
    const fresh = await deps.jobs.get(job.id);
    if (!fresh) return options.onGone();
    current = fresh;
  }
}
