// WSTun admin page: plain JS, no framework, no CDN. Every piece of data from the server is put
// into the page with textContent (never parsed as HTML), since service names and descriptions come
// from third-party marketplaces. The admin token lives in sessionStorage: this tab only.

const TOKEN_KEY = "wstun-admin-token";
const $ = (id) => document.getElementById(id);

/** An API error with the server's code and message. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, "network", `the server cannot be reached: ${e.message}`);
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: reported below with the status.
  }
  if (!response.ok) {
    throw new ApiError(
      response.status,
      json?.error ?? "http_error",
      json?.message ?? `HTTP ${response.status}`,
    );
  }
  return json;
}

function describe(error) {
  if (error instanceof ApiError) return `${error.message} (${error.status} ${error.code})`;
  return String(error?.message ?? error);
}

function setStatus(id, text, isError = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", isError);
}

/** Creates an element with text and optional class; never parses HTML. */
function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

/**
 * A button; `name` is its accessible name when the visible label alone would be ambiguous in a
 * table (every row has an "Update").
 */
function button(label, onClick, className = "small", name = undefined) {
  const b = el("button", label, className);
  b.type = "button";
  if (name) b.setAttribute("aria-label", name);
  b.addEventListener("click", () => onClick(b));
  return b;
}

/** Runs an action with its button disabled and progress shown in `statusId`. */
async function act(b, statusId, progress, work, done) {
  b.disabled = true;
  setStatus(statusId, progress);
  try {
    const result = await work();
    // Refresh first: re-browsing clears the marketplace status, and the outcome must stay visible.
    await refreshAll();
    setStatus(statusId, done(result));
  } catch (e) {
    setStatus(statusId, describe(e), true);
  } finally {
    b.disabled = false;
  }
}

/** Gives each cell its column's name (data-label): a phone shows it before the cell. */
function labelCells(tbody) {
  const names = [...tbody.closest("table").tHead.rows[0].cells].map((th) => th.textContent.trim());
  for (const row of tbody.rows) {
    for (const cell of row.cells) cell.dataset.label = names[cell.cellIndex] ?? "";
  }
}

// ---- services ----

async function refreshServices() {
  try {
    const [services, installed] = await Promise.all([
      api("GET", "/_api/services"),
      api("GET", "/_api/marketplace/installed"),
    ]);
    const byName = new Map(installed.map((s) => [s.name, s]));
    const rows = services.map((service) => {
      const mine = byName.get(service.name);
      byName.delete(service.name);
      return serviceRow(service, mine);
    });
    // Installed in KV but not in this isolate's catalog (installed elsewhere): still list it.
    for (const mine of byName.values()) rows.push(serviceRow({ ...mine, builtin: false }, mine));
    $("services").replaceChildren(...rows);
    labelCells($("services"));
    setStatus("services-status", "");
  } catch (e) {
    setStatus("services-status", describe(e), true);
  }
}

function serviceRow(service, installed) {
  const tr = el("tr");
  tr.dataset.service = service.name;
  const name = el("td");
  // A headless service (udp) has no pages to open: its name is plain text.
  const link = el(service.headless ? "span" : "a", service.name);
  if (!service.headless) {
    link.href = `/${encodeURIComponent(service.name)}/service`;
    link.target = "_blank";
    link.rel = "noopener";
  }
  name.append(link, " ", el("span", service.builtin ? "built-in" : "marketplace", "badge"));
  const actions = el("td", null, "actions");
  if (installed) {
    actions.append(
      button(
        "Update",
        (b) =>
          act(
            b,
            "services-status",
            `Updating ${service.name}…`,
            () => api("POST", "/_api/marketplace/update", { name: service.name }),
            (r) =>
              r.version === r.previousVersion
                ? `${r.name} re-installed at ${r.version}.`
                : `${r.name} updated from ${r.previousVersion} to ${r.version}.`,
          ),
        "secondary small",
        `Update ${service.name}`,
      ),
      " ",
      button(
        "Uninstall",
        (b) => {
          if (!confirm(`Uninstall ${service.name}? Its running instances will be closed.`)) return;
          return act(
            b,
            "services-status",
            `Uninstalling ${service.name}…`,
            () => api("DELETE", `/_api/marketplace/services/${encodeURIComponent(service.name)}`),
            () => `${service.name} uninstalled.`,
          );
        },
        "danger small",
        `Uninstall ${service.name}`,
      ),
    );
  }
  tr.append(
    name,
    el("td", installed?.version ?? service.version ?? "—"),
    el("td", installed ? installed.source : "built in", installed ? "mono" : undefined),
    el("td", service.description),
    actions,
  );
  return tr;
}

// ---- marketplace ----

let currentMarket = null;

async function browse(url) {
  setStatus("market-status", `Reading ${url}…`);
  try {
    const market = await api("GET", `/_api/marketplace/browse?url=${encodeURIComponent(url)}`);
    currentMarket = url;
    $("market-name").textContent = market.name;
    $("market-name").hidden = false;
    $("market").replaceChildren(...market.services.map((s) => marketRow(url, s)));
    labelCells($("market"));
    $("market-table").hidden = false;
    setStatus(
      "market-status",
      market.services.length ? "" : "This marketplace offers no services.",
    );
  } catch (e) {
    // Don't leave another marketplace's list under this URL.
    currentMarket = null;
    $("market-name").hidden = true;
    $("market-table").hidden = true;
    setStatus("market-status", describe(e), true);
  }
}

function marketRow(url, entry) {
  const tr = el("tr");
  tr.dataset.service = entry.name;
  let status = "available";
  if (!entry.installable) status = entry.reason ?? "not installable here";
  else if (entry.updateAvailable) status = `update available (installed ${entry.installedVersion})`;
  else if (entry.installed) status = `installed (${entry.installedVersion})`;
  const actions = el("td", null, "actions");
  if (entry.installable && !entry.installed) {
    actions.append(button(
      "Install",
      (b) =>
        act(
          b,
          "market-status",
          `Installing ${entry.name} ${entry.version}: fetching and checking every file…`,
          () => api("POST", "/_api/marketplace/install", { url, name: entry.name }),
          (r) => `Installed ${r.name} ${r.version}.`,
        ),
      "small",
      `Install ${entry.name}`,
    ));
  } else if (entry.updateAvailable) {
    actions.append(button(
      "Update",
      (b) =>
        act(
          b,
          "market-status",
          `Updating ${entry.name} to ${entry.version}…`,
          () => api("POST", "/_api/marketplace/update", { name: entry.name }),
          (r) => `Updated ${r.name} to ${r.version}.`,
        ),
      "small",
      `Update ${entry.name}`,
    ));
  }
  tr.append(
    el("td", entry.name),
    el("td", entry.version),
    el("td", entry.description),
    el("td", status),
    actions,
  );
  return tr;
}

// ---- instances ----

async function refreshInstances() {
  try {
    const instances = await api("GET", "/_api/instances");
    $("instances").replaceChildren(...instances.map(instanceRow));
    labelCells($("instances"));
    setStatus("instances-status", instances.length ? "" : "No instance is running.");
  } catch (e) {
    setStatus("instances-status", describe(e), true);
  }
}

function instanceRow(instance) {
  const tr = el("tr");
  tr.dataset.uuid = instance.uuid;
  const actions = el("td", null, "actions");
  actions.append(button(
    "Close",
    (b) => {
      if (!confirm(`Close ${instance.name}? Its members will be disconnected from it.`)) return;
      return act(
        b,
        "instances-status",
        `Closing ${instance.name}…`,
        () => api("DELETE", `/_api/instances/${encodeURIComponent(instance.uuid)}`),
        () => `${instance.name} closed.`,
      );
    },
    "danger small",
    `Close ${instance.name}`,
  ));
  tr.append(
    el("td", instance.name),
    el("td", instance.service),
    el("td", instance.uuid, "mono"),
    el("td", instance.members),
    el("td", instance.protected ? "yes" : "no"),
    el("td", new Date(instance.createdAt).toLocaleString()),
    actions,
  );
  return tr;
}

// ---- live view ----
// Fed by GET /_api/metrics: the same instruments /metrics renders. Rates are the difference of
// two snapshots of one isolate; with several workers each poll may reach another isolate, so
// rows stay until none of that isolate's snapshots arrived for LIVE_FORGET_MS.

const LIVE_REFRESH_MS = 3000;
const LIVE_FORGET_MS = 30000;
/** isolate → { snapshot, rates, seenAt } */
const liveIsolates = new Map();

/** Sum of a counter or gauge's series whose labels match `where`. */
function metric(snapshot, name, where = {}) {
  let sum = 0;
  for (const s of snapshot.scalars[name] ?? []) {
    if (Object.entries(where).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

function liveFigures(snapshot) {
  return {
    framesIn: metric(snapshot, "wstun.frames", { direction: "in" }),
    framesOut: metric(snapshot, "wstun.frames", { direction: "out" }),
    drops: metric(snapshot, "wstun.frames.dropped"),
  };
}

function perSecond(now, before, key) {
  if (!before) return null;
  const seconds = (now.snapshot.takenAt - before.snapshot.takenAt) / 1000;
  if (seconds <= 0) return before.rates?.[key] ?? null;
  return (now.figures[key] - before.figures[key]) / seconds;
}

function rate(value) {
  return value === null ? "…" : value.toFixed(value < 10 ? 1 : 0);
}

function liveRow(isolate, entry) {
  const tr = el("tr");
  tr.dataset.isolate = isolate;
  const s = entry.snapshot;
  tr.append(
    el("td", isolate, "mono"),
    el("td", metric(s, "wstun.connections.open")),
    el("td", rate(entry.rates.framesIn)),
    el("td", rate(entry.rates.framesOut)),
    el("td", rate(entry.rates.drops)),
    el("td", entry.figures.drops),
    el("td", metric(s, "wstun.instances")),
    el("td", metric(s, "wstun.members")),
  );
  return tr;
}

function bridgeRow(row) {
  const tr = el("tr");
  tr.dataset.isolate = row.isolate;
  let status = "ok";
  if (row.self) status = "this isolate";
  else if (row.silent) status = "SILENT: alive in the directory, nothing on the bridge";
  else if (!row.aliveInDirectory) status = "gone from the directory";
  const heard = row.lastHeardMsAgo === null
    ? "never"
    : `${(row.lastHeardMsAgo / 1000).toFixed(1)} s ago`;
  tr.append(
    el("td", row.isolate, "mono"),
    el("td", row.aliveInDirectory ? "yes" : "no"),
    el("td", row.self ? "—" : heard),
    el("td", status, row.silent ? "error-text" : undefined),
  );
  return tr;
}

function showBridge(rows) {
  $("bridge-table").hidden = rows === null;
  if (rows === null) {
    setStatus("bridge-status", "Bridge off: this server runs as one isolate.");
    return;
  }
  $("bridge").replaceChildren(...rows.map(bridgeRow));
  labelCells($("bridge"));
  const silent = rows.filter((r) => r.silent).length;
  setStatus(
    "bridge-status",
    silent ? `${silent} isolate(s) silent on the bridge: see docs/operations.md.` : "",
    silent > 0,
  );
}

async function refreshLive() {
  let answer;
  try {
    answer = await api("GET", "/_api/metrics");
  } catch (e) {
    setStatus("live-status", describe(e), true);
    return;
  }
  const seenAt = Date.now();
  for (const snapshot of answer.snapshots) {
    const before = liveIsolates.get(snapshot.isolate);
    const entry = { snapshot, figures: liveFigures(snapshot), seenAt };
    entry.rates = {
      framesIn: perSecond(entry, before, "framesIn"),
      framesOut: perSecond(entry, before, "framesOut"),
      drops: perSecond(entry, before, "drops"),
    };
    liveIsolates.set(snapshot.isolate, entry);
  }
  for (const [isolate, entry] of liveIsolates) {
    if (seenAt - entry.seenAt > LIVE_FORGET_MS) liveIsolates.delete(isolate);
  }
  $("live").replaceChildren(...[...liveIsolates].map(([i, entry]) => liveRow(i, entry)));
  labelCells($("live"));
  showBridge(answer.bridge);
  $("live-updated").textContent = `updated ${new Date(seenAt).toLocaleTimeString()}`;
  setStatus("live-status", "");
}

// ---- sign in / out ----

async function refreshAll() {
  const work = [refreshServices(), refreshInstances(), refreshLive()];
  if (currentMarket) work.push(browse(currentMarket));
  await Promise.all(work);
}

let instanceTimer;
let liveTimer;

async function enter() {
  const config = await api("GET", "/_api/marketplace/config");
  $("market-urls").replaceChildren(...config.urls.map((url) => {
    const option = el("option");
    option.value = url;
    return option;
  }));
  if (!$("market-url").value && config.urls.length) $("market-url").value = config.urls[0];
  $("sign-in").hidden = true;
  $("signed-in").hidden = false;
  $("sign-out").hidden = false;
  await refreshAll();
  clearInterval(instanceTimer);
  instanceTimer = setInterval(refreshInstances, 5000);
  clearInterval(liveTimer);
  liveTimer = setInterval(refreshLive, LIVE_REFRESH_MS);
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(instanceTimer);
  clearInterval(liveTimer);
  liveIsolates.clear();
  $("signed-in").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  setStatus("sign-in-status", message, Boolean(message));
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value);
  $("token").value = "";
  setStatus("sign-in-status", "Checking…");
  try {
    await enter();
    setStatus("sign-in-status", "");
  } catch (e) {
    signOut(describe(e));
  }
});

$("sign-out").addEventListener("click", () => signOut());
$("browse").addEventListener("submit", (event) => {
  event.preventDefault();
  browse($("market-url").value.trim());
});
$("refresh-instances").addEventListener("click", refreshInstances);

if (token()) enter().catch((e) => signOut(describe(e)));
