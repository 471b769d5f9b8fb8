import { createSocket, type Socket } from "node:dgram";
import { once } from "node:events";
import type { AddressInfo } from "node:net";

/** One X-Ray (sub)segment document as the SDK sends it to the daemon. */
export interface XraySegment {
  name: string;
  namespace?: string;
  type?: string;
  trace_id?: string;
  aws?: { operation?: string; table_name?: string };
  http?: { request?: { url?: string; method?: string }; response?: { status?: number } };
  [key: string]: unknown;
}

/**
 * The X-Ray daemon's UDP intake on 127.0.0.1, as the X-Ray SDK uses it (AWS_XRAY_DAEMON_ADDRESS):
 * each datagram is a JSON header line `{"format":"json","version":1}` and one segment document.
 * In Lambda the SDK streams every closed subsegment of the invocation's segment this way. The
 * daemon itself (a Go binary) is not on npm; the SDK on the other side is the real one.
 */
export class XrayDaemon {
  readonly segments: XraySegment[] = [];
  readonly #socket: Socket;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("message", (message) => {
      const [header, body] = message.toString("utf8").split("\n", 2);
      if (!header?.includes('"format"') || !body) return;
      try {
        this.segments.push(JSON.parse(body) as XraySegment);
      } catch {
        /* not a segment document */
      }
    });
  }

  static async start(): Promise<XrayDaemon> {
    const socket = createSocket("udp4");
    socket.bind(0, "127.0.0.1");
    await once(socket, "listening");
    return new XrayDaemon(socket);
  }

  get address(): string {
    const { port } = this.#socket.address() as AddressInfo;
    return `127.0.0.1:${port}`;
  }

  close(): void {
    this.#socket.close();
  }
}
