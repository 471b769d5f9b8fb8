/**
 * HTTP control endpoints under /_sim/, so a separate process (the benchmark, a shell) can drive a running
 * simulator the way tests drive it in-process. No auth: the simulator only listens on 127.0.0.1.
 */
import type { Simulator } from "./types.ts";
import { parseBehaviourPatch, parseFault, parseWebhookConfig } from "./config-schema.ts";

export interface ControlReply {
  status: number;
  body?: unknown;
}

function parseJson(raw: string): unknown {
  return raw.trim() === "" ? null : JSON.parse(raw);
}

export function handleControl(sim: Simulator, method: string, pathname: string, rawBody: string): ControlReply {
  const route = `${method} ${pathname.replace(/\/+$/, "")}`;
  try {
    switch (route) {
      case "GET /_sim/stats":
        return { status: 200, body: sim.stats() };
      case "DELETE /_sim/stats":
        sim.resetStats();
        return { status: 204 };
      case "GET /_sim/config":
        return { status: 200, body: sim.behaviour() };
      case "POST /_sim/config":
        sim.configure(parseBehaviourPatch(parseJson(rawBody)));
        return { status: 200, body: sim.behaviour() };
      case "POST /_sim/faults":
        sim.injectFault(parseFault(parseJson(rawBody)));
        return { status: 201, body: { ok: true } };
      case "DELETE /_sim/faults":
        sim.clearFaults();
        return { status: 204 };
      case "POST /_sim/webhook":
        sim.setWebhook(parseWebhookConfig(parseJson(rawBody)));
        return { status: 200, body: { ok: true } };
      case "DELETE /_sim/webhook":
        sim.setWebhook(null);
        return { status: 204 };
    }
    const responseId = /^GET \/_sim\/responses\/([^/]+)$/.exec(route)?.[1];
    if (responseId !== undefined) {
      const response = sim.getResponse(decodeURIComponent(responseId));
      return response ? { status: 200, body: response } : { status: 404, body: { error: "not found" } };
    }
    return { status: 404, body: { error: `unknown control endpoint: ${route}` } };
  } catch (err) {
    return { status: 400, body: { error: (err as Error).message } };
  }
}
