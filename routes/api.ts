/**
 * `/_api/*`: read-only JSON about the server. Health is public; the rest sits behind the server
 * token like everything else. Nothing here ever includes an instance token or resume secret.
 *
 * @module
 */
import { Hono } from "hono";
import type { ClusterNode } from "../lib/cluster/mod.ts";
import type { Hub } from "../lib/hub/mod.ts";
import type { Lifecycle } from "../lib/lifecycle.ts";
import type { PubSub } from "../lib/pubsub/mod.ts";
import type { ServiceCatalog } from "../lib/service_catalog.ts";
import type { Stats } from "../lib/stats.ts";
import { VERSION } from "../lib/version.ts";

export interface ApiDeps {
  lifecycle: Lifecycle;
  cluster: ClusterNode | null;
  hub: Hub;
  catalog: ServiceCatalog;
  stats: Stats;
  now: () => number;
  pubsub: PubSub;
}

export function apiRoutes(
  { hub, catalog, stats, now, pubsub, cluster, lifecycle }: ApiDeps,
): Hono {
  const api = new Hono();
  // Liveness: the process answers. `draining`: it is restarting and takes no new sockets.
  api.get("/health", (c) => c.json({ ok: true, draining: lifecycle.draining }));
  api.get("/services", (c) => c.json(catalog.list()));
  // Every isolate's instances when the bridge is on (docs/architecture.md).
  api.get(
    "/instances",
    async (c) => c.json(await hub.listEverywhere(c.req.query("service") || undefined)),
  );
  api.get("/stats", (c) =>
    c.json({
      version: VERSION,
      uptimeSeconds: Math.round((now() - stats.startedAt) / 1000),
      connections: stats.connections,
      connectionsTotal: stats.connectionsTotal,
      instances: hub.instances.size,
      instancesCreated: stats.instancesCreated,
      framesIn: stats.framesIn,
      messagesRelayed: stats.messagesRelayed,
      bytesRelayed: stats.bytesRelayed,
      errors: stats.errors,
      limitCloses: stats.limitCloses,
      udpDatagramsDropped: stats.udpDatagramsDropped,
      pubsub: pubsub.stats(),
      // Which isolate answered, when there are several (docs/architecture.md).
      isolate: cluster?.isolate ?? null,
      // Channel publishes from other isolates known lost on a best-effort bridge (docs/pubsub.md).
      channelMessagesLost: cluster?.stats.channelMessagesLost ?? 0,
      // This isolate's bridge traffic: envelopes by kind, loss, time-outs (docs/architecture.md).
      bridge: cluster ? cluster.stats.snapshot() : null,
    }));
  // Channels with subscribers on this isolate, busiest first; never who the subscribers are.
  api.get("/channels", (c) => c.json(pubsub.registry.list()));
  return api;
}
