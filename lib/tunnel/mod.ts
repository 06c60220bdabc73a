/**
 * websocktunnel-compatible tunnels (docs/tunnels.md): the service that answers registrations and
 * viewers, the registries (one isolate, or across isolates), JWT verification, the wsmux framing
 * and the client the `tunnel` command runs.
 *
 * @example
 * ```ts
 * const tunnels = createTunnelService(config.tunnel);
 * app.all("*", (c, next) => tunnels.handle(c.req.raw) ?? next()); // null: not a tunnel request
 * ```
 *
 * @module
 */
export * from "./bridged_registry.ts";
export * from "./client.ts";
export * from "./jwt.ts";
export * from "./registry.ts";
export * from "./service.ts";
export * from "./shared_origin.ts";
export * from "./tunnel_config.ts";
export * from "./viewer_proxy.ts";
export * from "./viewer_urls.ts";
export * from "./wsmux.ts";
export * from "./wsmux_frame.ts";
