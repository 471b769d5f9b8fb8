import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";

/**
 * Starts the worker function for a job, asynchronously (`Event`): Lambda queues the invocation and
 * answers 202 at once, so a submit or a poll never waits for the run. The worker takes the job's
 * lease or, when another worker holds it, exits at once; a lost invocation only costs time, as the
 * poller dispatches again when it finds no worker holding the job.
 */
export function lambdaWorkerDispatch(client: LambdaClient, functionName: string): (jobId: string) => Promise<void> {
  return (jobId) => invokeAsync(client, functionName, { jobId });
}

/**
 * Sends the webhook of a job that just ended, by the poller function invoked asynchronously with
 * `{ deliver: jobId }` (functions/poller.ts). Lost, it costs a tick: the due index holds the send.
 */
export function lambdaDeliveryDispatch(client: LambdaClient, functionName: string): (jobId: string) => Promise<void> {
  return (jobId) => invokeAsync(client, functionName, { deliver: jobId });
}

async function invokeAsync(client: LambdaClient, functionName: string, payload: object): Promise<void> {
  await client.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: "Event",
      Payload: new TextEncoder().encode(JSON.stringify(payload)),
    }),
  );
}
