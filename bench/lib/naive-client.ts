import OpenAI from "openai";
import { sleep } from "./stats.ts";

/** The interval of OpenAI's own background-mode example (`while status in {queued, in_progress}: sleep(2)`). */
export const NAIVE_POLL_MS = 2_000;

export interface NaiveResult {
  upstreamId: string;
  status: string;
  /** Wall-clock ms when the poll that saw the end came back: the moment this caller is informed. */
  informedAtMs: number;
  /** HTTP requests this caller sent (create + retrieves, SDK retries included). */
  calls: number;
}

/**
 * What a user writes without the relay, with the official SDK: create in background mode, then
 * retrieve every 2 s until the status is no longer queued or in_progress.
 */
export function naiveClient(baseURL: string) {
  let calls = 0;
  const client = new OpenAI({
    baseURL,
    apiKey: "sk-naive",
    // Count what actually goes on the wire, retries included.
    fetch: (url: string | URL | Request, init?: RequestInit) => {
      calls++;
      return fetch(url, init);
    },
  });
  return {
    get calls() {
      return calls;
    },
    async run(body: { model: string; input: string; metadata?: Record<string, string> }): Promise<NaiveResult> {
      const before = calls;
      let response = await client.responses.create({ ...body, background: true });
      while (response.status === "queued" || response.status === "in_progress") {
        await sleep(NAIVE_POLL_MS);
        response = await client.responses.retrieve(response.id);
      }
      return {
        upstreamId: response.id,
        status: response.status ?? "unknown",
        informedAtMs: Date.now(),
        calls: calls - before,
      };
    },
  };
}

/** The naive client's calls for a job that spends `upstreamMs` queued + running: 1 create + one retrieve per 2 s. */
export function naiveCallsFor(upstreamMs: number): number {
  return 1 + Math.ceil(upstreamMs / NAIVE_POLL_MS);
}
