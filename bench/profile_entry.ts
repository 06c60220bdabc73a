/**
 * Starts WSTun (main.ts) for `deno task bench:profile`: SIGTERM ends the process through
 * `Deno.exit`, which lets `--cpu-prof` write its profile (a killed process writes none).
 *
 * @module
 */
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
await import("../main.ts");
