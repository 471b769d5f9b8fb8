import { type Job, reachedByOpenAIWebhooks, type Watch } from "#shared/domain/job.ts";
import { backstopIntervalMs, pollIntervalMs } from "#shared/domain/polling.ts";
import type { Deps } from "#shared/ports.ts";

/** When to look at a running job next, and whether that look is the usual poll or a push backstop. */
export interface NextLook {
  at: number;
  watch: Watch;
}

/**
 * Stream-, then push-aware polling. A job the poller holds the upstream stream of needs no poll. While OpenAI's verified webhooks are arriving (one within
 * `settings.pushFreshMs`) and they reach this job, its end will be pushed: the next look is a
 * backstop minutes away (`backstopIntervalMs`, from the job's age). Otherwise, or once they stop
 * arriving, the usual schedule from how long the status has stayed the same.
 */
export async function nextLook(
  job: Job,
  deps: Deps,
  options: { statusChanged: boolean; watching?: boolean },
): Promise<NextLook> {
  const now = deps.clock.now();
  // Held on its upstream stream (shared/poller/stream-watches.ts): the end arrives as an event. Due
  // now in the index, so the poller invocation that takes the shard next picks up the watch at once.
  if (options.watching) return { at: now, watch: "stream" };
  if (await pushReaches(job, deps, now)) return { at: now + backstopIntervalMs(now - job.createdAt), watch: "push" };
  return { at: now + pollIntervalMs(options.statusChanged ? 0 : now - job.statusChangedAt), watch: "poll" };
}

async function pushReaches(job: Job, deps: Deps, now: number): Promise<boolean> {
  const freshMs = deps.settings.pushFreshMs;
  if (freshMs <= 0 || !reachedByOpenAIWebhooks(job)) return false;
  const heard = await deps.inbox.lastHeard(now);
  return heard !== null && now - heard <= freshMs;
}
