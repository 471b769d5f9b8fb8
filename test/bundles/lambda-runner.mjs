// A stand-in for one Lambda execution environment: imports a bundle once (the cold start), then
// invokes its handler for each message from the parent, with a Lambda-like context. Plain .mjs
// run by plain `node`, so nothing but the bundle itself is on the module path.
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";

const file = process.argv[2];
const send = (message) => new Promise((resolve) => process.send(message, () => resolve()));
const serializeError = (error) => ({ name: error?.name, message: error?.message ?? String(error), stack: error?.stack });

let handler;
try {
  const started = performance.now();
  const mod = await import(pathToFileURL(file).href);
  handler = mod.handler;
  await send({ type: "ready", initMs: performance.now() - started, handlerType: typeof handler });
} catch (error) {
  await send({ type: "init-error", error: serializeError(error) });
  process.exit(1);
}

process.on("message", async (message) => {
  if (message.type === "exit") process.exit(0);
  if (message.type !== "invoke") return;
  const deadline = Date.now() + message.timeoutMs;
  const requestId = randomUUID();
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: message.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${message.functionName}`,
    memoryLimitInMB: "1024",
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${message.functionName}`,
    logStreamName: `2026/01/01/[$LATEST]${requestId.replaceAll("-", "")}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
  const started = performance.now();
  try {
    const result = await handler(message.event, context);
    await send({ type: "result", id: message.id, result, durationMs: performance.now() - started });
  } catch (error) {
    await send({ type: "error", id: message.id, error: serializeError(error), durationMs: performance.now() - started });
  }
});
