import { traceOutgoingHttp, withCause } from "./trace-http.ts";
import { currentTrace, epochSeconds, newSegmentId, sendSubsegment, statusFlags, type Trace } from "./xray.ts";

/**
 * X-Ray subsegments for what a job step waits on. Lambda's active tracing (cdk/constructs/relay-function.ts)
 * opens each invocation's segment; this adds a subsegment per AWS SDK call (the clients built
 * through `instrument`) and per outgoing HTTP request (./trace-http.ts: the upstream, webhooks),
 * so a slow step shows which call it waited on. The same subsegments Powertools Tracer recorded,
 * without its 130 KB of X-Ray SDK (docs/decisions/0012-bundle-diet.md). Outside Lambda (tests,
 * the local stack) nothing is installed and `instrument` returns the client as it is.
 */
const IN_LAMBDA = Boolean(process.env.AWS_LAMBDA_FUNCTION_NAME);

/** The part of an AWS SDK v3 client and its middleware this needs (@smithy/types, written out). */
interface BuildArgs {
  input?: { TableName?: unknown };
  request?: { headers?: Record<string, string> };
}
type BuildHandler = (args: BuildArgs) => Promise<{ output: unknown }>;
interface SdkClient {
  middlewareStack: {
    add(
      middleware: (next: BuildHandler, context: { clientName?: string; commandName?: string }) => BuildHandler,
      options: { step: "build"; name: string },
    ): void;
  };
}
interface SdkMetadata {
  httpStatusCode?: number;
  requestId?: string;
  attempts?: number;
}

/** Adds a subsegment per call to an AWS SDK v3 client (the retries of one call are one subsegment). */
export function instrument<T extends object>(client: T): T {
  if (!IN_LAMBDA) return client;
  (client as unknown as SdkClient).middlewareStack.add(
    (next, context) => async (args) => {
      const trace = currentTrace();
      if (!trace?.sampled) return next(args);
      const id = newSegmentId();
      // The services the call reaches continue the trace under this subsegment (a worker invoked
      // from here, for one), as the X-Ray SDK does.
      const request = args.request;
      if (request?.headers) request.headers["X-Amzn-Trace-Id"] = `Root=${trace.root};Parent=${id};Sampled=1`;
      const started = epochSeconds();
      const service = (context.clientName ?? "AWS").replace(/Client$/, "");
      const operation = (context.commandName ?? "").replace(/Command$/, "");
      const input = args.input;
      const record = (metadata: SdkMetadata | undefined, error?: Error) =>
        sendAwsCall(trace, {
          id,
          name: service,
          started,
          operation,
          table: typeof input?.TableName === "string" ? input.TableName : undefined,
          metadata,
          error,
        });
      try {
        const result = await next(args);
        record((result.output as { $metadata?: SdkMetadata }).$metadata);
        return result;
      } catch (error) {
        record((error as { $metadata?: SdkMetadata }).$metadata, error as Error);
        throw error;
      }
    },
    // Build: after the request is serialized (so it has headers), around retries and signing.
    { step: "build", name: "relayXRaySubsegment" },
  );
  return client;
}

function sendAwsCall(
  trace: Trace,
  call: {
    id: string;
    name: string;
    started: number;
    operation: string;
    table?: string;
    metadata?: SdkMetadata;
    error?: Error;
  },
): void {
  const status = call.metadata?.httpStatusCode;
  const aws: Record<string, string | number> = { operation: call.operation };
  if (process.env.AWS_REGION) aws.region = process.env.AWS_REGION;
  if (call.metadata?.requestId) aws.request_id = call.metadata.requestId;
  if (call.metadata?.attempts) aws.retries = call.metadata.attempts - 1;
  if (call.table) aws.table_name = call.table;
  sendSubsegment(trace, {
    id: call.id,
    name: call.name,
    namespace: "aws",
    start_time: call.started,
    end_time: epochSeconds(),
    aws,
    ...(status ? { http: { response: { status } } } : {}),
    ...(call.error && !status ? { fault: true as const } : statusFlags(status)),
    ...(call.error ? withCause(call.error) : {}),
  });
}

if (IN_LAMBDA) traceOutgoingHttp();
