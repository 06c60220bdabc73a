/**
 * The real websocktunnel binaries (upstream v2.0.0, built from the reference source with Go) for
 * the tests that run them: `referenceBinaries()` builds `websocktunnel` and `wst-client` once (the
 * build takes 10–30 s; its output is kept in the temp directory under a name derived from the
 * source tarball's hash, so later runs reuse it; `WSTUN_WST_BIN_DIR` points at binaries built
 * elsewhere instead) and `runWstClient` runs the client against a server.
 *
 * @module
 */

const BUILD_SH = Deno.env.get("WSTUN_WST_BUILD_SH") ??
  "/work/shared/reference/websocktunnel/build.sh";

export async function toolchainMissing(): Promise<string | undefined> {
  try {
    await Deno.stat(BUILD_SH);
  } catch {
    return `reference build script ${BUILD_SH} not found (set WSTUN_WST_BUILD_SH)`;
  }
  try {
    const { success } = await new Deno.Command("go", { args: ["version"], stdout: "null" })
      .output();
    return success ? undefined : "go version failed";
  } catch {
    return "Go is not installed";
  }
}

/**
 * The directory holding `websocktunnel` and `wst-client`: WSTUN_WST_BIN_DIR, or a build cached
 * by source hash (built into a fresh directory, then renamed into place, so a half-done build is
 * never reused).
 */
export async function referenceBinaries(): Promise<string> {
  const given = Deno.env.get("WSTUN_WST_BIN_DIR");
  if (given) return given;
  const tarball = BUILD_SH.replace(/build\.sh$/, "websocktunnel-134aa7c.tar.gz");
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(tarball));
  const key = [...new Uint8Array(digest).slice(0, 6)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  const tmp = Deno.env.get("TMPDIR") || "/tmp";
  const cached = `${tmp}/wstun-wst-bin-${key}`;
  try {
    await Deno.stat(`${cached}/wst-client`);
    await Deno.stat(`${cached}/websocktunnel`);
    return cached;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const fresh = await Deno.makeTempDir({ prefix: "wst-bin-" });
  const build = await new Deno.Command("bash", {
    args: [BUILD_SH, fresh],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!build.success) throw new Error(new TextDecoder().decode(build.stderr));
  try {
    await Deno.rename(fresh, cached);
  } catch (error) {
    // Another run finished the same build first (rename onto a non-empty directory fails): use
    // its copy; any other failure is real.
    if (!(await Deno.stat(`${cached}/wst-client`).catch(() => undefined))) throw error;
    await Deno.remove(fresh, { recursive: true });
  }
  return cached;
}

/** A running wst-client and the URL it announced. */
export function runWstClient(
  bin: string,
  server: { origin: string },
  id: string,
  port: number,
  jwt: string | undefined,
) {
  const args = [server.origin, id, String(port)];
  if (jwt) args.push("--token", jwt);
  const child = new Deno.Command(bin, {
    args,
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let exited = false;
  let stdinClosed = false;
  child.status.then(() => exited = true);
  async function waitForStderr(pattern: RegExp): Promise<RegExpExecArray> {
    while (true) {
      const match = pattern.exec(seen);
      if (match) return match;
      const { value, done } = await stderr.read();
      if (done) throw new Error(`wst-client ended before ${pattern}: ${seen}`);
      seen += value;
    }
  }
  return {
    child,
    waitForStderr,
    async stop() {
      if (!exited) child.kill("SIGTERM");
      if (!stdinClosed) await child.stdin.close();
      while (!(await stderr.read()).done) { /* drain until the process exits */ }
      await child.status;
    },
    feed: async (line: string) => {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(line + "\n"));
      await writer.close();
      stdinClosed = true;
    },
  };
}
