import type { Context } from "aws-lambda";
import { handle } from "hono/aws-lambda";
import { withLogContext } from "#shared/log.ts";
import { bootstrap } from "./bootstrap.ts";
import { currentApp } from "./current-app.ts";

const runtime = bootstrap();
const app = currentApp(runtime);

/**
 * The relay's HTTP API (submit, status, cancel, list, OpenAI webhooks) behind API Gateway.
 * hono/aws-lambda is marked deprecated in favour of @hono/aws-lambda, which is not published on
 * the npm registry yet; the adapter still ships with Hono 4 and is what this uses until then.
 */
export async function handler(event: Parameters<ReturnType<typeof handle>>[0], context: Context) {
  return withLogContext({ awsRequestId: context.awsRequestId }, async () => handle(await app())(event, context));
}
