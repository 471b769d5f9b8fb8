/** Which Responses API operation a request is, so it can be counted and faulted before it is handled. */
import type { SimOp } from "./types.ts";

export interface ApiRoute {
  op: SimOp;
  id?: string;
  /** For `conversation`: which call it is. */
  action?: "create" | "retrieve" | "delete";
}

export const basePath = (azure: boolean) => (azure ? "/openai/v1" : "/v1");

function matchConversation(method: string, rest: string[]): ApiRoute | null {
  const id = rest[1] === undefined ? undefined : decodeURIComponent(rest[1]);
  if (rest.length === 1 && method === "POST") return { op: "conversation", action: "create" };
  if (rest.length === 2 && method === "GET") return { op: "conversation", action: "retrieve", id };
  if (rest.length === 2 && method === "DELETE") return { op: "conversation", action: "delete", id };
  return null;
}

export function matchRoute(method: string, url: URL, azure: boolean): ApiRoute | null {
  const base = basePath(azure);
  if (!url.pathname.startsWith(`${base}/`)) return null;
  const rest = url.pathname.slice(base.length).split("/").filter(Boolean); // ["responses", id?, "cancel"?]
  if (rest[0] === "conversations") return matchConversation(method, rest);
  if (rest[0] !== "responses") return null;
  const id = rest[1] === undefined ? undefined : decodeURIComponent(rest[1]);
  if (rest.length === 1 && method === "POST") return { op: "create" };
  if (rest.length === 2 && rest[1] === "input_tokens" && method === "POST") return { op: "input_tokens" };
  if (rest.length === 2 && method === "GET")
    return { op: url.searchParams.get("stream") === "true" ? "stream" : "retrieve", id };
  if (rest.length === 2 && method === "DELETE") return { op: "delete", id };
  if (rest.length === 3 && rest[2] === "cancel" && method === "POST") return { op: "cancel", id };
  if (rest.length === 3 && rest[2] === "input_items" && method === "GET") return { op: "input_items", id };
  return null;
}
