/**
 * The HTTP front: node:http rather than a framework, because faults need raw control of the socket
 * (drop without a reply, cut a stream mid-body). Order per request: count, latency, fault, auth, handle,
 * late fault, reply.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { handleApi, type HandlerResult } from "./api.ts";
import { handleControl } from "./control.ts";
import { faultError, routeNotFound, SimHttpError, unauthorized } from "./errors.ts";
import { Exchange, readBody } from "./reply.ts";
import { matchRoute } from "./routes.ts";
import { pumpStream } from "./sse.ts";
import type { SimState } from "./state.ts";
import { sleep } from "./ticker.ts";
import type { SimFault, Simulator } from "./types.ts";
import { flavourFault, flavourOp, handleFlavoured, plainNotFound } from "./flavours.ts";

const BODY_LIMIT_BYTES = 100 * 1024 * 1024;

function presentedKey(req: IncomingMessage, azure: boolean): { ok: (key: string) => boolean; shown?: string } {
  const auth = req.headers.authorization;
  const bearer = auth?.startsWith("Bearer ") ? auth.slice("Bearer ".length).trim() : undefined;
  const apiKeyHeader = typeof req.headers["api-key"] === "string" ? req.headers["api-key"] : undefined;
  // Azure v1 takes the key in `api-key`, and also as a bearer token (what Microsoft's samples send).
  const candidates = azure ? [apiKeyHeader, bearer] : [bearer];
  return { ok: (key) => candidates.includes(key), shown: bearer ?? apiKeyHeader };
}

/** Applies a fault's reply; returns true when the request is fully answered by it. */
function applyFault(ex: Exchange, fault: SimFault, responseId: string | undefined): boolean {
  if (fault.dropConnection) {
    ex.drop();
    return true;
  }
  if (fault.status !== undefined) {
    const err = faultError(fault.status, fault.code, fault.retryAfterSeconds, { responseId, azure: ex.azure });
    ex.json(err.status, err.body, err.headers);
    return true;
  }
  return false;
}

export function createRequestHandler(state: SimState, sim: Simulator) {
  const finish = (ex: Exchange, url: URL) => {
    state.log(
      `${ex.req.method} ${url.pathname}${url.search} -> ${ex.status === -1 ? "dropped" : ex.status} ${ex.elapsedMs()}ms`,
    );
  };

  async function serveResult(ex: Exchange, result: HandlerResult): Promise<void> {
    if (result.kind === "json") {
      ex.json(result.status, result.body);
      return;
    }
    ex.startEventStream();
    const cutAfter =
      result.job.plan.streamCutAfter === undefined ? state.behaviour.streamCutAfter : result.job.plan.streamCutAfter;
    const end = await pumpStream({
      res: ex.res,
      job: result.job,
      fromSeq: result.fromSeq,
      clock: state.clock,
      ticker: state.ticker,
      cutAfter,
      includeObfuscation: result.includeObfuscation,
      stopped: () => state.closing,
    });
    if (end === "cut") state.log(`stream of ${result.job.id} cut after ${cutAfter} events`);
  }

  return async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const ex = new Exchange(req, res, state.azure);
    try {
      const rawBody = await readBody(req, BODY_LIMIT_BYTES);

      if (url.pathname.startsWith("/_sim/")) {
        const reply = handleControl(sim, req.method ?? "GET", url.pathname, rawBody ?? "");
        if (reply.body === undefined) {
          res.writeHead(reply.status).end();
        } else {
          res.writeHead(reply.status, { "content-type": "application/json" }).end(JSON.stringify(reply.body));
        }
        return;
      }

      if (state.flavour !== "openai") {
        const op = flavourOp(state.flavour, req.method ?? "GET", url.pathname);
        state.stats.request(op);
        if (!op) return plainNotFound(ex);
        if (state.behaviour.latencyMs > 0) await sleep(state.behaviour.latencyMs);
        if (await flavourFault(state, ex, op)) return;
        if (state.apiKey !== undefined && !presentedKey(req, false).ok(state.apiKey))
          throw unauthorized(presentedKey(req, false).shown, false);
        if (rawBody === null) throw new SimHttpError(413, { error: { message: "Request body too large." } });
        return await handleFlavoured(state, ex, op, rawBody);
      }

      const route = matchRoute(req.method ?? "GET", url, state.azure);
      state.stats.request(route?.op ?? null);
      if (state.behaviour.latencyMs > 0) await sleep(state.behaviour.latencyMs);

      const fault = route ? state.faults.take(route.op) : undefined;
      if (fault) {
        state.stats.fault();
        if (fault.delayMs) await sleep(fault.delayMs);
        if (!fault.afterHandling && applyFault(ex, fault, route?.id)) return;
      }

      if (state.apiKey !== undefined) {
        const presented = presentedKey(req, state.azure);
        if (!presented.ok(state.apiKey)) throw unauthorized(presented.shown, state.azure);
      }
      if (!route) throw routeNotFound(req.method ?? "GET", url.pathname, state.azure);
      if (rawBody === null) {
        throw new SimHttpError(413, {
          error: { message: "Request body too large.", type: "invalid_request_error", param: null, code: null },
        });
      }

      const result = handleApi(state, route, url, rawBody);
      if (fault?.afterHandling && applyFault(ex, fault, route.id)) return;
      await serveResult(ex, result);
    } catch (err) {
      if (err instanceof SimHttpError) {
        ex.json(err.status, err.body, err.headers);
      } else if (!res.headersSent) {
        state.log(`internal error: ${(err as Error).stack ?? String(err)}`);
        ex.json(500, {
          error: { message: `Simulator bug: ${(err as Error).message}`, type: "server_error", param: null, code: null },
        });
      } else {
        res.destroy();
      }
    } finally {
      if (!url.pathname.startsWith("/_sim/")) finish(ex, url);
    }
  };
}
