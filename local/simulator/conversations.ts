/**
 * Conversations: an id that gathers turns. A response created with `conversation` reads the
 * conversation's items (its initial items, then every earlier response's input and output) and joins it.
 * Only create, retrieve and delete are served; the items endpoints are not simulated.
 */
import { toUnixSeconds } from "#shared/clock.ts";
import { type Item, inputItemsOf } from "./items.ts";
import type { Job } from "./job.ts";
import { randomId } from "./random.ts";
import { outputItemAt } from "./response-object.ts";
import type { Json } from "./validate.ts";

export interface Conversation {
  id: string;
  createdAt: number;
  metadata: Record<string, string>;
  items: Item[];
  jobs: Job[];
}

export class ConversationStore {
  readonly #conversations = new Map<string, Conversation>();

  create(metadata: Record<string, string>, items: Json | undefined, now: number): Conversation {
    const conversation = { id: randomId("conv_"), createdAt: now, metadata, items: inputItemsOf(items), jobs: [] };
    this.#conversations.set(conversation.id, conversation);
    return conversation;
  }

  get(id: string): Conversation | undefined {
    return this.#conversations.get(id);
  }

  delete(id: string): boolean {
    return this.#conversations.delete(id);
  }
}

export const renderConversation = (c: Conversation) => ({
  id: c.id,
  object: "conversation",
  created_at: toUnixSeconds(c.createdAt),
  metadata: c.metadata,
});

/** What a new turn in the conversation reads, as of time t. */
export function conversationItems(c: Conversation, t: number): Item[] {
  const items = [...c.items];
  for (const job of c.jobs) {
    items.push(...job.inputItems);
    const out = outputItemAt(job, t);
    if (out) items.push(out as unknown as Item);
  }
  return items;
}
