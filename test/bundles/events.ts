import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, EventBridgeEvent } from "aws-lambda";

const API_ID = "a1b2c3d4e5";
const DOMAIN = `${API_ID}.execute-api.us-east-1.amazonaws.com`;

/**
 * What API Gateway HTTP API (payload format 2.0, `$default` route and stage) hands the function:
 * lower-case headers, the query string raw and parsed, a JSON body as text (not base64).
 */
export function httpApiEvent(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown; query?: Record<string, string> } = {},
): APIGatewayProxyEventV2 {
  const now = new Date();
  const rawQueryString = new URLSearchParams(options.query ?? {}).toString();
  const headers: Record<string, string> = {
    accept: "application/json",
    "content-length": "0",
    host: DOMAIN,
    "user-agent": "bundle-test/1.0",
    "x-amzn-trace-id": `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomUUID().replaceAll("-", "").slice(0, 24)}`,
    "x-forwarded-for": "203.0.113.7",
    "x-forwarded-port": "443",
    "x-forwarded-proto": "https",
    ...Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  };
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === "string"
        ? options.body
        : JSON.stringify(options.body);
  if (body !== undefined) {
    headers["content-type"] ??= "application/json";
    headers["content-length"] = String(Buffer.byteLength(body));
  }
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString,
    headers,
    ...(rawQueryString ? { queryStringParameters: options.query } : {}),
    requestContext: {
      accountId: "123456789012",
      apiId: API_ID,
      domainName: DOMAIN,
      domainPrefix: API_ID,
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "203.0.113.7", userAgent: "bundle-test/1.0" },
      requestId: randomUUID().slice(0, 18),
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded: false,
  };
}

/** What an EventBridge `rate(1 minute)` rule sends its target. */
export function scheduledEvent(): EventBridgeEvent<"Scheduled Event", Record<string, never>> {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: "123456789012",
    time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    region: "us-east-1",
    resources: ["arn:aws:events:us-east-1:123456789012:rule/ResponsesRelay-dev-PollerSchedule9566DF58-AbCdEf123456"],
    detail: {},
  };
}
