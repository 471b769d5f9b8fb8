import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";

/**
 * Starts the worker function for a job, asynchronously (`Event`): Lambda queues the invocation and
 * answers 202 at once, so a submit or a poll never waits for the run. The worker takes the job's
 * lease or, when another worker holds it, exits at once; a lost invocation only costs time, as the
 * poller dispatches again when it finds no worker holding the job.
 */
export function lambdaWorkerDispatch(client: LambdaClient, functionName: string): (jobId: string) => Promise<void> {
  return async (jobId) => {
    await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: "Event",
        Payload: new TextEncoder().encode(JSON.stringify({ jobId })),
      }),
    );
  };
}
