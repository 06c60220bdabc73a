/**
 * `GET /_api/channels`: the channels this isolate has subscribers on, with their counts, busiest
 * first. Channel names are public to whoever may call `/_api/*` (the server token guards it when
 * set); subscribers are never named.
 *
 * @module
 */
import { Hono } from "hono";
import type { PubSub } from "../lib/pubsub/mod.ts";

/** Mount at the root, behind the server-token middleware: `app.route("/", channelsApi(pubsub))`. */
export function channelsApi(pubsub: PubSub): Hono {
  const app = new Hono();
  app.get("/_api/channels", (c) => c.json(pubsub.registry.list()));
  return app;
}
