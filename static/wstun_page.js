// @ts-check
/**
 * wstun_page.js — what every built-in service page shares: the server token from the page's URL,
 * a connected {@link WSTunClient}, share links that carry the token, DOM building that only ever
 * writes text (never parses HTML, so no field a peer sends can inject markup), status lines and
 * number formatting. Browser only.
 *
 * @module
 */
import { WSTunClient } from "./libwstun.js";

/** The page's query parameters. */
export const params = new URLSearchParams(location.search);

/** The server token the page was opened with (`?token=`), if any. */
export function serverToken() {
  return params.get("token") || undefined;
}

/** A client for this page's own server, carrying the server token. */
export function createClient() {
  return new WSTunClient({ token: serverToken() });
}

/**
 * A link to a page of this server that carries the server token when the page has one.
 * @param {string} path e.g. "/chat/main"
 * @param {Record<string, string>} query
 */
export function shareLink(path, query) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const token = serverToken();
  if (token) url.searchParams.set("token", token);
  return url.toString();
}

/**
 * Creates an element. Children that are strings become text nodes; `text` sets textContent.
 * Nothing here parses HTML.
 * @param {string} tag
 * @param {{ className?: string, text?: string, attrs?: Record<string, string>, on?: Record<string, (e: any) => void> }} [props]
 * @param {(Node | string | null | undefined | false)[]} children
 * @returns {HTMLElement}
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  for (const [k, v] of Object.entries(props.attrs ?? {})) node.setAttribute(k, v);
  for (const [k, fn] of Object.entries(props.on ?? {})) node.addEventListener(k, fn);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/**
 * @param {string} id
 * @returns {any} the element (pages know their own markup)
 */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`page has no #${id}`);
  return node;
}

/**
 * Sets a status line: `kind` is "ok", "warn", "error" or "" (neutral).
 * @param {HTMLElement} node
 * @param {string} kind
 * @param {string} text
 */
export function setStatus(node, kind, text) {
  node.className = `status ${kind}`.trim();
  node.textContent = text;
  node.dataset.state = kind;
}

/**
 * Shows a banner (or hides it when `text` is empty).
 * @param {HTMLElement} node
 * @param {string} kind "ok" | "warn" | "error" | ""
 * @param {string} text
 */
export function setBanner(node, kind, text) {
  node.className = `banner ${kind}`.trim();
  node.textContent = text;
  node.hidden = !text;
}

/**
 * Follows the client's connection in a status line: "connected" (`data-state="ok"`) only once the
 * socket is open and, after a drop, libwstun is back in every room it was in (its `reconnect`
 * event); "warn" from the drop until then. A drain (the server's `draining` frame, or a 1012
 * close) is named as a server restart for as long as it lasts, even while attempts to reach the
 * restarting server fail.
 * @param {WSTunClient} client
 * @param {HTMLElement} node
 */
export function trackConnection(client, node) {
  /** Why the connection dropped ("" while connected). */
  let dropped = "";
  const restarting = "the server is restarting";
  // The close after `draining` can reach a busy socket as 1006: the frame itself says it.
  client.on("draining", () => dropped = restarting);
  client.on("close", (/** @type {{ code: number }} */ e) => {
    if (!dropped) dropped = e.code === 1012 ? restarting : "connection lost";
    setStatus(node, "warn", `${dropped}: reconnecting…`);
  });
  client.on("open", () => {
    if (!dropped) return setStatus(node, "ok", "connected");
    const inRooms = client.hosted.size + client.joined.size > 0;
    setStatus(node, "warn", inRooms ? "reconnected: rejoining the room…" : "reconnected");
  });
  client.on("reconnect", () => {
    dropped = "";
    setStatus(node, "ok", "connected");
  });
}

/**
 * What libwstun's `reconnect` event says about one room: the error that lost it for good, or
 * `null` when it is back — or will be tried again at the next reconnect, because the socket
 * dropped during the attempt (libwstun keeps the room then).
 * @param {{ instances: { uuid: string, ok: boolean, error?: any }[] }} event
 * @param {string} uuid
 * @returns {any} the error, or null
 */
export function roomLost(event, uuid) {
  const mine = event.instances.find((i) => i.uuid === uuid);
  if (!mine || mine.ok || mine.error?.code === "disconnected") return null;
  return mine.error ?? new Error("it could not be got back");
}

/** A human message for a failed request. @param {any} err */
export function describeError(err) {
  if (err && typeof err === "object" && "code" in err) {
    const known = /** @type {Record<string, string>} */ ({
      unauthorized: "wrong password (or the server token is missing)",
      user_id_taken: "that name is taken in this room: pick another",
      unknown_instance: "this room no longer exists",
      limit_reached: "the room or server is full",
      rate_limited: "too fast: wait a moment",
      disconnected: "not connected to the server",
      timeout: "the server did not answer in time",
    });
    return Object.hasOwn(known, err.code) ? known[err.code] : `${err.code}: ${err.message}`;
  }
  return String(err?.message ?? err);
}

/**
 * Wires a host page's "create a room" form (#create-form, #room-name, #room-password,
 * #create-error, #create-button) and the room header both built-in host pages share: checks the
 * name, creates an instance of `service`, swaps #create for #room with the room's title, share
 * link to `/{service}/main` (#share-link, copied by #copy-link) and password flag
 * (#room-protected), then hands the created instance to `opened`; errors are shown in the form.
 * @param {WSTunClient} client
 * @param {string} service
 * @param {(created: { uuid: string, name: string }) => void} opened
 */
export function bindCreateForm(client, service, opened) {
  byId("copy-link").addEventListener("click", async () => {
    const copied = await copyInput(byId("share-link"));
    byId("copy-link").textContent = copied ? "Copied" : "Copy";
  });
  byId("create-form").addEventListener("submit", async (/** @type {SubmitEvent} */ e) => {
    e.preventDefault();
    const name = byId("room-name").value.trim();
    const password = byId("room-password").value;
    const error = byId("create-error");
    error.textContent = "";
    if (!name) {
      error.textContent = "Give the room a name.";
      return;
    }
    byId("create-button").disabled = true;
    let created;
    try {
      created = await client.createInstance({ service, name, token: password || undefined });
    } catch (err) {
      error.textContent = describeError(err);
      byId("create-button").disabled = false;
      return;
    }
    byId("create").hidden = true;
    byId("room").hidden = false;
    byId("room-title").textContent = created.name;
    document.title = `${created.name} — ${service} host · WSTun`;
    byId("share-link").value = shareLink(`/${service}/main`, { room: created.uuid });
    byId("room-protected").hidden = !password;
    opened(created);
  });
}

/** @param {number} n bytes */
export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** @param {number} seconds */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor(s / 60) % 60} min`;
}

/** @param {number} ms epoch milliseconds */
export function formatTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** Copies text to the clipboard, falling back to selecting the input. @param {HTMLInputElement} input */
export async function copyInput(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch {
    input.select();
    return false;
  }
}

/**
 * JSON characters an app frame's list may take: at most 3 bytes of UTF-8 a character, so a frame
 * stays near 48 KiB, far under the server's frame limit (`WSTUN_MAX_FRAME_BYTES`, 1 MiB default).
 */
export const FRAME_LIST_CHARS = 16_000;

/**
 * Splits a list into batches whose JSON fits one frame (an item larger than that is a batch of
 * its own). Always yields at least one batch, so "the list is now empty" is sent too.
 * @template T
 * @param {T[]} items
 * @param {number} [maxChars]
 * @returns {T[][]}
 */
export function splitForFrames(items, maxChars = FRAME_LIST_CHARS) {
  /** @type {T[][]} */
  const out = [];
  /** @type {T[]} */
  let batch = [];
  let size = 0;
  for (const item of items) {
    const n = JSON.stringify(item).length + 1;
    if (batch.length > 0 && size + n > maxChars) {
      out.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(item);
    size += n;
  }
  out.push(batch);
  return out;
}
