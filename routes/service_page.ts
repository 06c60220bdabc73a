/**
 * The skeleton every built-in service page shares, so services/<name>/service.html and main.html
 * hold only what is their own. A page file is the inside of `<main>` after the banner; the
 * skeleton adds the document around it (title, the shared stylesheet, libwstun.js preloaded, the
 * page's one module script — no inline script, so the pages keep working under PAGE_CSP), the top
 * bar with the connection status, and the banner. A page includes a part the shared page scripts
 * drive with a marker comment on a line of its own:
 *
 * - `<!-- part: room-picker -->`: the open rooms and the join form (static/room_picker.js);
 * - `<!-- part: share-link -->`: the room's share link and password note (static/wstun_page.js).
 *
 * By convention the host page (`service`) loads `/<name>/host.js` and the member page (`main`)
 * `/<name>/member.js`. Pages are rendered once, at start-up (routes/assets.ts).
 *
 * @example
 * ```ts
 * const html = renderServicePage("chat", "main", await Deno.readTextFile("services/chat/main.html"));
 * ```
 *
 * @module
 */

/** The two pages of a built-in service: the host's and the member's. */
export type ServicePageName = "service" | "main";

const PARTS: Readonly<Record<string, string>> = {
  "room-picker": `<section id="rooms" class="card" hidden>
  <h2>Open rooms</h2>
  <ul id="room-list" class="list" aria-label="Open rooms"></ul>
  <div class="row actions">
    <button id="refresh" type="button" class="secondary">Refresh</button>
  </div>
</section>

<section id="join" class="card" hidden>
  <h2 id="join-title">Join</h2>
  <form id="join-form" class="stack">
    <label>Your name <span class="hint">(how others see you; up to 64 characters)</span>
      <input id="display-name" name="name" maxlength="64" required autocomplete="nickname">
    </label>
    <label id="password-label" hidden>Room password
      <input id="password" name="password" type="password" maxlength="256"
        autocomplete="off">
    </label>
    <div class="row">
      <button id="join-button" type="submit">Join room</button>
      <button id="back" type="button" class="secondary">Other rooms</button>
    </div>
    <p id="join-error" class="error-text" role="alert"></p>
  </form>
</section>`,
  "share-link": `<div class="card">
  <h2 id="room-title">Room</h2>
  <label>Share this link to invite people
    <div class="share">
      <input id="share-link" readonly aria-label="Share link">
      <button id="copy-link" type="button" class="secondary">Copy</button>
    </div>
  </label>
  <p id="room-protected" class="muted" hidden>
    This room has a password: tell it to the people you invite.
  </p>
</div>`,
};

const PART_MARKER = /^( *)<!-- part: ([a-z-]+) -->$/gm;

/** The whole page of built-in service `service` around `body` (the page file's text). */
export function renderServicePage(service: string, page: ServicePageName, body: string): string {
  const title = service.charAt(0).toUpperCase() + service.slice(1);
  const host = page === "service";
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <link rel="icon" href="data:,">
    <title>${title}${host ? " — host a room" : ""} · WSTun</title>
    <link rel="stylesheet" href="/static/wstun.css">
    <link rel="modulepreload" href="/static/libwstun.js">
    <script type="module" src="/${service}/${host ? "host" : "member"}.js"></script>
  </head>
  <body>
    <main class="page">
      <div class="topbar">
        <h1>${title} ${
    host ? "<small>host a room</small>" : '<small id="subtitle">join a room</small>'
  }</h1>
        <p id="connection" class="status">connecting…</p>
      </div>
      <p id="banner" class="banner" hidden></p>

${indent(withParts(body).trimEnd(), "      ")}
    </main>
  </body>
</html>
`;
}

/** `body` with each part marker replaced by the part, at the marker's indentation. */
function withParts(body: string): string {
  return body.replace(PART_MARKER, (_marker, spaces: string, name: string) => {
    const part = PARTS[name];
    if (part === undefined) throw new Error(`unknown page part "${name}"`);
    return indent(part, spaces);
  });
}

/** Every non-empty line of `text` indented by `spaces`. */
function indent(text: string, spaces: string): string {
  return text.split("\n").map((line) => line ? spaces + line : line).join("\n");
}
