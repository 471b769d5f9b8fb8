/** Everything a running simulator holds, passed to the handlers instead of module-level globals. */
import type { Clock } from "#shared/clock.ts";
import type { ConversationStore } from "./conversations.ts";
import type { FaultQueue } from "./faults.ts";
import type { StatsCounter } from "./stats.ts";
import type { JobStore } from "./store.ts";
import type { Ticker } from "./ticker.ts";
import type { SimBehaviour } from "./types.ts";
import type { WebhookNotifier } from "./webhooks.ts";

export interface SimState {
  clock: Clock;
  behaviour: SimBehaviour;
  azure: boolean;
  flavour: "openai" | "ollama" | "chat";
  apiKey: string | undefined;
  store: JobStore;
  conversations: ConversationStore;
  stats: StatsCounter;
  faults: FaultQueue;
  webhooks: WebhookNotifier;
  ticker: Ticker;
  log: (line: string) => void;
  closing: boolean;
}
