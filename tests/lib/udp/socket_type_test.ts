import assert from "node:assert/strict";
import { defaultBindHost } from "../../../lib/udp/socket_type.ts";

Deno.test("udp: client sockets bind to the user server's loopback when it is local, else to every interface of its family", () => {
  assert.deepEqual(
    ["127.0.0.1", "127.0.0.2", "::1", "192.168.1.5", "2001:db8::1"].map(defaultBindHost),
    ["127.0.0.1", "127.0.0.1", "::1", "0.0.0.0", "::"],
  );
});
