import { Tracer } from "@aws-lambda-powertools/tracer";
import { METRICS_SERVICE } from "#shared/metrics.ts";

/**
 * X-Ray through Powertools Tracer. Lambda's active tracing (cdk/constructs/relay-function.ts)
 * opens each invocation's segment; the Tracer adds a subsegment per AWS SDK call (the clients
 * built through `instrument`) and per outgoing `fetch`, which is how the openai SDK reaches the
 * upstream and how webhooks leave, so a slow job step shows which call it waited on. Outside
 * Lambda (tests, the local stack) the Tracer is off and `instrument` returns the client as it is.
 */
export const tracer = new Tracer({ serviceName: METRICS_SERVICE });

export const instrument = <T extends object>(client: T): T =>
  tracer.captureAWSv3Client(client as Parameters<Tracer["captureAWSv3Client"]>[0]) as T;
