// @ts-check
/**
 * room.js — the part of a fileshare room every participant sees, host and members alike: the
 * room's file list with a download button per file, the files this participant shares (file
 * picker and drop zone), and the transfers with progress, rate, time left, cancel and save.
 * How the participant's own files reach the room's list differs (a member sends
 * `file_register` to the host; the host updates its registry), so that is passed in.
 *
 * Every name shown is written with textContent.
 *
 * @module
 */
import { byId, el, formatBytes, formatDuration } from "../../static/wstun_page.js";
import { TransferEngine } from "./transfer.js";

/** @typedef {import("./transfer.js").SharedFile} SharedFile */
/** @typedef {import("./transfer.js").Transfer} Transfer */
/** @typedef {{ id: string, name: string, size: number, type: string }} OwnFile */

/** How often progress rows are redrawn at most. */
const RENDER_INTERVAL_MS = 100;

/**
 * @param {{
 *   client: import("../../static/libwstun.js").WSTunClient,
 *   uuid: string,
 *   self: string,
 *   register: (files: OwnFile[]) => void,
 *   unregister: (ids: string[]) => void,
 * }} options
 */
export function mountFileRoom({ client, uuid, self, register, unregister }) {
  const rows = new Map();
  /** @type {Set<Transfer>} */
  const dirty = new Set();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let nextFileId = 1;

  const engine = new TransferEngine({
    client,
    uuid,
    onChange(t) {
      dirty.add(t);
      // Progress redraws are batched; a transfer that ends is drawn at once.
      if (t.state === "done" || t.state === "failed") return flush();
      timer ??= setTimeout(flush, RENDER_INTERVAL_MS);
    },
  });

  function flush() {
    clearTimeout(timer);
    timer = undefined;
    for (const t of dirty) drawTransfer(t);
    dirty.clear();
    byId("transfers-empty").hidden = rows.size > 0;
  }

  /** @param {Transfer} t */
  function drawTransfer(t) {
    let row = rows.get(t.key);
    if (!row) {
      row = el("li", { className: "transfer" });
      rows.set(t.key, row);
      byId("transfers").prepend(row);
    }
    row.className = `transfer ${t.state}`;
    row.dataset.state = t.state;
    row.dataset.direction = t.direction;
    row.dataset.name = t.name;
    const arrow = t.direction === "down" ? `↓ from ${t.peer}` : `↑ to ${t.peer}`;
    const title = el(
      "div",
      { className: "title" },
      el("span", { className: "name", text: t.name }),
      el("span", { className: "badge", text: arrow }),
      ...actions(t),
    );
    const progress = el("progress", {
      attrs: {
        max: String(Math.max(t.size, 1)),
        value: String(t.size ? t.bytes : 1),
        "aria-label": `Progress of ${t.name}`,
      },
    });
    row.replaceChildren(title, progress, el("div", { className: "detail", text: detail(t) }));
  }

  /** @param {Transfer} t */
  function detail(t) {
    const amount = `${formatBytes(t.bytes)} of ${formatBytes(t.size)}`;
    if (t.state === "active") {
      const left = t.rate > 0 ? formatDuration((t.size - t.bytes) / t.rate) : "–";
      const rate = t.rate > 0 ? `${formatBytes(Math.round(t.rate))}/s` : "starting…";
      return [amount, rate, `${left} left`, t.message].filter(Boolean).join(" · ");
    }
    if (t.state === "done" && t.sha256) return `${t.message} · SHA-256 ${t.sha256}`;
    return [t.state === "waiting" ? "" : amount, t.message].filter(Boolean).join(" · ");
  }

  /** @param {Transfer} t */
  function actions(t) {
    if (t.state === "waiting" || t.state === "active") {
      return [
        el("button", {
          className: "danger small",
          text: "Cancel",
          attrs: { type: "button", "aria-label": `Cancel ${t.name}` },
          on: { click: () => engine.cancel(t) },
        }),
      ];
    }
    const dismiss = el("button", {
      className: "secondary small",
      text: "Dismiss",
      attrs: { type: "button", "aria-label": `Dismiss ${t.name}` },
      on: {
        click: () => {
          engine.forget(t);
          rows.get(t.key)?.remove();
          rows.delete(t.key);
          byId("transfers-empty").hidden = rows.size > 0;
        },
      },
    });
    if (!t.url) return [dismiss];
    const save = el("a", {
      className: "button small save",
      text: "Save",
      attrs: { href: t.url, download: t.name, "aria-label": `Save ${t.name}` },
    });
    return [save, dismiss];
  }

  /** Renders the room's file list. @param {SharedFile[]} files */
  function showFiles(files) {
    const list = byId("file-list");
    list.replaceChildren();
    byId("file-count").textContent = String(files.length);
    if (files.length === 0) {
      list.append(el("li", { className: "empty", text: "No files shared yet." }));
      return;
    }
    for (const f of files) {
      const mine = f.owner === self;
      list.append(el(
        "li",
        { attrs: { "data-owner": f.owner, "data-name": f.name } },
        el("span", { className: "name", text: f.name }),
        el("span", { className: "badge", text: formatBytes(f.size) }),
        el("span", { className: "badge", text: mine ? "yours" : `from ${ownerName(f.owner)}` }),
        mine ? null : el("button", {
          className: "small",
          text: "Download",
          attrs: { type: "button", "aria-label": `Download ${f.name}` },
          on: { click: () => engine.request(f) },
        }),
      ));
    }
  }

  /** Renders the files this participant shares. */
  function showOwnFiles() {
    const list = byId("my-files");
    list.replaceChildren();
    byId("unshare-all").hidden = engine.offers.size < 2;
    if (engine.offers.size === 0) {
      list.append(el("li", { className: "empty", text: "You share no files." }));
    }
    for (const [id, file] of engine.offers) {
      list.append(el(
        "li",
        { attrs: { "data-name": file.name } },
        el("span", { className: "name", text: file.name }),
        el("span", { className: "badge", text: formatBytes(file.size) }),
        el("button", {
          className: "secondary small",
          text: "Stop sharing",
          attrs: { type: "button", "aria-label": `Stop sharing ${file.name}` },
          on: {
            click: () => {
              engine.offers.delete(id);
              unregister([id]);
              showOwnFiles();
            },
          },
        }),
      ));
    }
  }

  /** @param {FileList | File[]} files */
  function share(files) {
    /** @type {OwnFile[]} */
    const added = [];
    for (const file of files) {
      const id = `f${nextFileId++}`;
      engine.offers.set(id, file);
      added.push({ id, name: file.name, size: file.size, type: file.type });
    }
    if (added.length) register(added);
    showOwnFiles();
  }

  byId("unshare-all").addEventListener("click", () => {
    const ids = [...engine.offers.keys()];
    engine.offers.clear();
    unregister(ids);
    showOwnFiles();
  });

  const input = byId("share-input");
  input.addEventListener("change", () => {
    share(input.files ?? []);
    input.value = "";
  });
  const drop = byId("drop");
  drop.addEventListener("dragover", (/** @type {DragEvent} */ e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (/** @type {DragEvent} */ e) => {
    e.preventDefault();
    drop.classList.remove("over");
    share(e.dataTransfer?.files ?? []);
  });

  /** Registers every shared file again (the host replaces by id): after the host was away. */
  function registerAll() {
    const files = [...engine.offers].map(([id, f]) => ({
      id,
      name: f.name,
      size: f.size,
      type: f.type,
    }));
    if (files.length) register(files);
  }

  showOwnFiles();
  return { engine, showFiles, registerAll };
}

/** @param {string} userId */
export function ownerName(userId) {
  return userId === "host" ? "the host" : userId;
}
