import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** Whether `standardwebhooks` verified it with the receiver's secret. */
  verified: boolean;
  status: number;
  /** Wall-clock ms when the request was fully read. */
  at: number;
}

/**
 * A webhook receiver as a caller would write one: verifies every request with the
 * `standardwebhooks` library, and answers whatever `reply` says (default 200).
 */
export async function startReceiver(secret: string) {
  const received: Received[] = [];
  let reply: (request: { headers: IncomingHttpHeaders; body: string }) => {
    status: number;
    headers?: Record<string, string>;
  } = () => ({ status: 200 });
  const verifier = new Webhook(secret);
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      let verified = false;
      try {
        verifier.verify(body, req.headers as Record<string, string>);
        verified = true;
      } catch {
        verified = false;
      }
      const answer = reply({ headers: req.headers, body });
      received.push({ headers: req.headers, body, verified, status: answer.status, at: Date.now() });
      res.writeHead(answer.status, answer.headers);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    /** Accepted deliveries: verified and answered 2xx. */
    accepted: () => received.filter((r) => r.verified && r.status >= 200 && r.status < 300),
    reply(fn: typeof reply) {
      reply = fn;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
