/**
 * Upstream URL rules, in one place (the classic client bugs: `/v1/v1` on Azure, a trailing slash,
 * the wrong auth header).
 */
const DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1";

/**
 * A base that already ends in a version segment (`/v1`, `/openai/v1`) is used as it is; any other
 * base gets `/v1` appended once.
 */
export function resolveBaseUrl(input: string | undefined): string {
  const raw = (input ?? "").trim() || DEFAULT_OPENAI_BASE_URL;
  const url = new URL(raw);
  const path = url.pathname.replace(/\/+$/, "");
  url.pathname = /\/v\d+$/.test(path) ? path : `${path}/v1`;
  url.search = "";
  url.hash = "";
  return url.toString().replace(/\/+$/, "");
}

const AZURE_HOST = /\.(openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)$/i;

/** Azure OpenAI, by its host names. */
export const isAzureHost = (baseUrl: string): boolean => AZURE_HOST.test(new URL(baseUrl).hostname);

export type KeyHeader = "authorization" | "api-key";

/** Azure OpenAI takes the key in an `api-key` header; detected from the host unless set explicitly. */
export function keyHeaderFor(baseUrl: string, explicit?: string): KeyHeader {
  const choice = explicit?.trim().toLowerCase();
  if (choice === "api-key" || choice === "authorization") return choice;
  return AZURE_HOST.test(new URL(baseUrl).hostname) ? "api-key" : "authorization";
}
