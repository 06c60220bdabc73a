import assert from "node:assert/strict";
import { startServer } from "../_util/server.ts";

Deno.test("pages: the info page and built-in pages forbid framing, foreign code and Referer", async () => {
  await using server = await startServer({ token: "tok-page-headers" });
  for (
    const path of ["/", "/chat/service", "/chat/main", "/fileshare/service", "/fileshare/main"]
  ) {
    const response = await fetch(`${server.base}${path}?token=tok-page-headers`);
    assert.equal(response.status, 200, path);
    await response.body?.cancel();
    const csp = response.headers.get("content-security-policy") ?? "";
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.match(csp, /script-src 'self'(;|$)/, path);
    assert.match(csp, /default-src 'none'/, path);
    assert.equal(response.headers.get("x-frame-options"), "DENY", path);
    assert.equal(response.headers.get("referrer-policy"), "no-referrer", path);
  }
});
