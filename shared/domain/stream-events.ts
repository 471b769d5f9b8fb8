/**
 * The upstream stream's lifecycle events: the ones that carry a Response snapshot with its status,
 * as opposed to the deltas and item events between them. Read by every reader of an upstream
 * stream (the live pump and its log, the poller's stream watch, the emulated worker), so they
 * agree on what announces a status and what ends a stream.
 */

/** Events that end a stream with the response's final status. */
export const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set([
  "response.completed",
  "response.failed",
  "response.incomplete",
]);

/** Lifecycle events that carry a Response snapshot and announce a status. */
export const LIFECYCLE_EVENT_TYPES: ReadonlySet<string> = new Set([
  "response.created",
  "response.queued",
  "response.in_progress",
  ...TERMINAL_EVENT_TYPES,
]);
