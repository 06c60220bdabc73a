// Poll host page. The host keeps the poll and the votes; members send `vote`, the host answers
// everyone with `poll` (question, options, counts). Nothing is stored on the server.
import { WSTunClient } from "/libwstun.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const serverToken = params.get("token") ?? undefined;

/** @type {{question: string, options: string[]}} */
let poll;
/** userId → option index */
const votes = new Map();
const members = new Set();
let client;
let uuid;

function tally() {
  const counts = poll.options.map(() => 0);
  for (const option of votes.values()) counts[option]++;
  return counts;
}

function state() {
  return { question: poll.question, options: poll.options, counts: tally(), voters: votes.size };
}

function render() {
  const counts = tally();
  const total = Math.max(1, votes.size);
  const list = $("results");
  list.replaceChildren(...poll.options.map((option, i) => {
    const li = document.createElement("li");
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${(100 * counts[i]) / total}%`;
    const label = document.createElement("span");
    label.className = "label";
    const text = document.createElement("span");
    text.textContent = option;
    const count = document.createElement("span");
    count.textContent = String(counts[i]);
    label.append(text, count);
    li.append(bar, label);
    return li;
  }));
  $("voters").textContent = String(votes.size);
  $("members").textContent = String(members.size);
}

function broadcast() {
  client.send(uuid, "poll", state());
  render();
}

$("setup").addEventListener("submit", async (event) => {
  event.preventDefault();
  const options = $("options").value.split("\n").map((s) => s.trim()).filter(Boolean).slice(0, 20);
  if (options.length < 2) {
    $("status").textContent = "Give at least two options.";
    return;
  }
  poll = { question: $("question").value.trim(), options };
  $("start").disabled = true;
  $("status").textContent = "Connecting…";
  try {
    client = new WSTunClient({ url: wsUrl(), token: serverToken });
    client.on("client_connected", (msg) => {
      members.add(msg.userId);
      client.send(uuid, "poll", state(), { to: msg.userId });
      render();
    });
    client.on("client_disconnected", (msg) => {
      members.delete(msg.userId);
      render();
    });
    client.on("vote", (msg) => {
      const option = Number(msg.option);
      if (!Number.isInteger(option) || option < 0 || option >= poll.options.length) return;
      votes.set(msg.from, option);
      broadcast();
    });
    await client.connect();
    const password = $("password").value;
    const created = await client.createInstance({
      service: "poll",
      name: poll.question.slice(0, 100),
      token: password || undefined,
    });
    uuid = created.uuid;
  } catch (e) {
    $("status").textContent = `Could not start: ${e.message ?? e}`;
    $("start").disabled = false;
    return;
  }
  const link = new URL("main", location.href);
  link.search = "";
  link.searchParams.set("uuid", uuid);
  if (serverToken) link.searchParams.set("token", serverToken);
  $("link").href = link.href;
  $("link").textContent = link.href;
  $("title").textContent = poll.question;
  $("setup").hidden = true;
  $("running").hidden = false;
  $("status").textContent = "Poll running.";
  render();
});

$("close").addEventListener("click", async () => {
  await client.closeInstance(uuid);
  $("status").textContent = "Poll closed.";
  $("close").disabled = true;
});

function wsUrl() {
  const url = new URL("/_ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  return url.href;
}
