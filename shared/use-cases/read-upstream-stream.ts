import { asUpstreamFailure, StreamIdleError, UpstreamRejectedError } from "#shared/errors.ts";
import type { StreamEvent, Upstream } from "#shared/ports.ts";

/**
 * How one connection to an upstream stream ended. `progress`: it delivered new events (and then
 * broke or closed); `quiet`: it stayed open but silent until the idle limit; `closed`: it closed
 * cleanly with nothing new; `failed`: it could not open, or broke with nothing new; `refused`: the
 * upstream will not stream this response (4xx); `stopped`: the reader had what it came for.
 */
export type ConnectionEnd = "progress" | "quiet" | "closed" | "failed" | "refused" | "stopped";

export interface ConnectionReader {
  /**
   * The upstream number of the last event consumed (-1: none). The connection resumes after it,
   * and events at or below it (a replay) are skipped; `onEvent` is what moves it on.
   */
  cursor(): number;
  /** A new event (above the cursor, not an error event). True stops the connection: `stopped`. */
  onEvent(event: StreamEvent): Promise<boolean>;
  /**
   * The connection ended without a fault (the upstream closed it, `signal` aborted, or `onEvent`
   * stopped it): awaited before the end is returned.
   */
  onClose?(): Promise<void>;
}

/**
 * Reads one connection to the upstream stream of `upstreamId`, resumed after the reader's cursor,
 * until it ends, breaks, `signal` aborts or the reader stops it, and says how it ended (what its
 * readers decide the next connection by: the poller's watch, the live pump). The connection is
 * always closed on the way out; an error thrown by the reader's hooks is rethrown.
 */
export async function readUpstreamStream(
  upstream: Upstream,
  upstreamId: string,
  signal: AbortSignal,
  reader: ConnectionReader,
): Promise<ConnectionEnd> {
  const connection = new AbortController();
  const stop = () => connection.abort();
  signal.addEventListener("abort", stop, { once: true });
  let iterator: AsyncIterator<StreamEvent> | undefined;
  let progressed = false;
  try {
    try {
      const cursor = reader.cursor();
      const events = await upstream.stream(upstreamId, {
        startingAfter: cursor >= 0 ? cursor : undefined,
        signal: connection.signal,
      });
      iterator = events[Symbol.asyncIterator]();
    } catch (error) {
      return asUpstreamFailure(error) instanceof UpstreamRejectedError ? "refused" : "failed";
    }
    let stopped = false;
    while (!stopped) {
      let next: IteratorResult<StreamEvent>;
      try {
        next = await iterator.next();
      } catch (error) {
        if (error instanceof StreamIdleError && !progressed) return "quiet";
        return progressed ? "progress" : "failed";
      }
      if (next.done || signal.aborted) break;
      const event = next.value;
      // An error event mid-stream (nested on the live API) breaks this connection; it is not passed on.
      if (event.type === "error") return progressed ? "progress" : "failed";
      if (event.sequence_number <= reader.cursor()) continue;
      progressed = true;
      stopped = await reader.onEvent(event);
    }
    await reader.onClose?.();
    if (stopped) return "stopped";
    return progressed ? "progress" : "closed";
  } finally {
    signal.removeEventListener("abort", stop);
    connection.abort();
    await iterator?.return?.().catch(() => undefined);
  }
}
