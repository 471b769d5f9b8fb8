import { Hono, type Context } from "hono";
import { InvalidRequestError } from "#shared/errors.ts";
import type { AuthEnv } from "#shared/http/auth.ts";
import { readJson } from "#shared/http/read-json.ts";
import type { Deps, InputItemQuery } from "#shared/ports.ts";
import { countInputTokens } from "#shared/use-cases/count-input-tokens.ts";
import { deleteJob } from "#shared/use-cases/delete-job.ts";
import { listInputItems } from "#shared/use-cases/list-input-items.ts";

/** The rest of OpenAI's Responses surface: delete, input items, input token counts. */
export function responseExtrasRoutes(deps: Deps) {
  const app = new Hono<AuthEnv>();

  app.post("/input_tokens", async (c) => c.json(await countInputTokens(c.get("tenant").id, await readJson(c), deps)));

  app.delete("/:id", async (c) => c.json(await deleteJob(c.get("tenant").id, c.req.param("id"), deps)));

  app.get("/:id/input_items", async (c) =>
    c.json(await listInputItems(c.get("tenant").id, c.req.param("id"), inputItemQuery(c), deps)),
  );

  return app;
}

/** OpenAI's query parameters for input items, checked as OpenAI checks them. */
function inputItemQuery(c: Context): InputItemQuery {
  const query: InputItemQuery = {};
  const limitRaw = c.req.query("limit");
  if (limitRaw !== undefined) {
    const limit = Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      throw new InvalidRequestError("Invalid 'limit': expected an integer from 1 to 100.", {
        param: "limit",
        code: "invalid_value",
      });
    query.limit = limit;
  }
  const order = c.req.query("order");
  if (order !== undefined) {
    if (order !== "asc" && order !== "desc")
      throw new InvalidRequestError("Invalid 'order': expected 'asc' or 'desc'.", {
        param: "order",
        code: "invalid_value",
      });
    query.order = order;
  }
  const after = c.req.query("after");
  if (after) query.after = after;
  // Clients spell arrays either way: include=a&include=b or include[]=a.
  const include = [...(c.req.queries("include") ?? []), ...(c.req.queries("include[]") ?? [])].filter(Boolean);
  if (include.length) query.include = include;
  return query;
}
