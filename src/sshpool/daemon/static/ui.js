// sshpoold's page: the channels (polled every second), a run box with live output grouped when
// equal, a channel's details and a terminal on it. The token is asked once and kept for this tab
// only (sessionStorage); a terminal's WebSocket presents a one-time ticket, never the token.
"use strict";

const KEY = "sshpool-token";
const POLL_MS = 1000;
const FIRST_TABLE = "sshpool:first-table";
const $ = (css) => document.querySelector(css);
let token = sessionStorage.getItem(KEY) || "";
let channels = {};
let selected = null;
let term = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${token}`, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    ask("The daemon refused that token (401); enter it again.");
    throw new Error("401");
  }
  return response;
}

function ask(reason) {
  sessionStorage.removeItem(KEY);
  token = "";
  $("#token-why").textContent = reason;
  $("#token-form").hidden = false;
  $("#page").hidden = true;
  $("#change-token").hidden = true;
  $("#token-input").value = "";
  $("#token-input").focus();
}

function uptime(seconds) {
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.floor(seconds % 60)).padStart(2, "0")}s`;
  const h = Math.floor(seconds / 3600);
  return h < 48 ? `${h}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m` : `${Math.floor(h / 24)}d`;
}

function row(alias, info) {
  const since = info.state === "up" && info.connected_since ? uptime(Date.now() / 1000 - info.connected_since) : "";
  const tags = el("td");
  for (const t of info.tags || []) tags.append(el("span", { class: "tag" }, t));
  const tr = el(
    "tr",
    { tabindex: "0", "data-alias": alias, "aria-label": `${alias}: ${info.state}` },
    el("td", { class: "alias" }, alias),
    el("td", {}, `${info.user || ""}@${info.host}:${info.port}`),
    tags,
    el("td", {}, info.mode || ""),
    el("td", {}, el("span", { class: `badge ${info.state}`, "data-state": info.state }, info.state)),
    el("td", {}, since),
    el("td", {}, String(info.running ?? 0)),
    el("td", {}, String(info.queued ?? 0)),
    el("td", { class: "error" }, info.last_error || ""),
  );
  tr.addEventListener("click", () => show(alias));
  tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(alias); } });
  return tr;
}

function render() {
  const body = $("#channels tbody");
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.alias : null;
  const aliases = Object.keys(channels).sort((a, b) => a.localeCompare(b));
  body.replaceChildren(...aliases.map((a) => row(a, channels[a])));
  if (focused) { const again = body.querySelector(`tr[data-alias="${CSS.escape(focused)}"]`); if (again) again.focus(); }
  $("#no-channels").hidden = aliases.length > 0;
  const up = aliases.filter((a) => channels[a].state === "up").length;
  $("#summary").textContent = `${aliases.length} channels, ${up} up`;
  if (selected && channels[selected]) $("#detail-info").textContent = JSON.stringify(channels[selected], null, 2);
}

// The first table on screen, as a User Timing mark (DevTools shows it; the bench reads it): what a
// person waits for after opening the page. Taken after the frame that paints it.
function markFirstTable() {
  if (performance.getEntriesByName(FIRST_TABLE).length) return;
  const count = Object.keys(channels).length;
  requestAnimationFrame(() => setTimeout(() => performance.mark(FIRST_TABLE, { detail: { channels: count } }), 0));
}

async function poll() {
  try {
    const r = await api("/channels");
    if (r.ok) { channels = await r.json(); render(); markFirstTable(); }
    if (selected) await activity(selected);
  } catch (e) { if (e.message === "401") return; }
  setTimeout(poll, POLL_MS);
}

function describe(line) {
  const what = line.command !== undefined ? ` ${line.command}` : line.state ? ` ${line.state}` : "";
  const how = line.error ? ` → ${line.error}` : line.exit_code !== undefined && line.exit_code !== null ? ` → exit ${line.exit_code}` : "";
  const took = typeof line.duration === "number" ? ` (${line.duration.toFixed(3)} s)` : "";
  return `${line.time.replace("T", " ").slice(0, 19)}  ${line.event}${what}${how}${took}${line.client ? `  from ${line.client}` : ""}`;
}

async function activity(alias) {
  const r = await api(`/channels/${encodeURIComponent(alias)}/audit?limit=15`);
  if (!r.ok || alias !== selected) return;
  const { lines } = await r.json();
  $("#detail-audit").replaceChildren(...lines.map((line) => el("li", {}, describe(line))));
}

function show(alias) {
  selected = alias;
  $("#detail").hidden = false;
  $("#detail-title").textContent = alias;
  $("#terminal-status").textContent = "";
  $("#detail-audit").replaceChildren();
  render();
  activity(alias).catch(() => {});
  $("#open-terminal").focus();
}

function groupsOf(results) {
  const groups = new Map();
  for (const [alias, r] of Object.entries(results)) {
    const key = JSON.stringify([r.stdout ?? "", r.stderr ?? "", r.exit_code ?? null, r.error ?? null]);
    if (!groups.has(key)) groups.set(key, { aliases: [], result: r });
    groups.get(key).aliases.push(alias);
  }
  return [...groups.values()].sort((a, b) => b.aliases.length - a.aliases.length);
}

function outputBox(title, stdout, stderr, id) {
  const box = el("div", { class: "group" }, el("h3", {}, title), el("pre", { class: "stdout" }, stdout));
  if (id) box.dataset.alias = id;
  if (stderr) box.append(el("pre", { class: "stderr" }, stderr));
  return box;
}

async function run(event) {
  event.preventDefault();
  const out = $("#run-output");
  out.replaceChildren();
  $("#run-status").textContent = "running…";
  const live = {};
  const text = {};
  let response;
  try {
    response = await api("/run", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/x-ndjson, application/problem+json" },
      body: JSON.stringify({ command: $("#run-command").value, channels: $("#run-selector").value }),
    });
  } catch (e) { $("#run-status").textContent = ""; return; }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    $("#run-status").textContent = `refused (${response.status}): ${problem.detail || response.statusText}`;
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  let results = null;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = pending.indexOf("\n")) >= 0) {
      const line = JSON.parse(pending.slice(0, cut));
      pending = pending.slice(cut + 1);
      if (line.results) { results = line.results; continue; }
      if (!line.alias) continue;
      if (!live[line.alias]) {
        live[line.alias] = outputBox(line.alias, "", "", line.alias);
        out.append(live[line.alias]);
      }
      if (!text[line.alias]) text[line.alias] = { stdout: "", stderr: "" };
      if (line.stream === "stdout" || line.stream === "stderr") {
        text[line.alias][line.stream] += line.data;  // the final results leave out what was streamed
        const box = live[line.alias];
        if (line.stream === "stderr" && !box.querySelector("pre.stderr")) box.append(el("pre", { class: "stderr" }));
        box.querySelector(`pre.${line.stream}`).append(line.data);
      }
    }
  }
  if (!results) { $("#run-status").textContent = "the answer ended early"; return; }
  for (const [alias, r] of Object.entries(results)) {
    const seen = text[alias] || { stdout: "", stderr: "" };
    results[alias] = { ...r, stdout: (r.stdout ?? "") + seen.stdout, stderr: (r.stderr ?? "") + seen.stderr };
  }
  const groups = groupsOf(results);
  out.replaceChildren(...groups.map((g) => {
    const r = g.result;
    const how = r.error ? `error ${r.error}` : r.signal ? `signal ${r.signal}` : `exit ${r.exit_code}`;
    return outputBox(`${g.aliases.join(", ")} (${g.aliases.length}) — ${how}`, r.stdout ?? r.exception ?? "", r.stderr ?? "");
  }));
  const n = Object.keys(results).length;
  $("#run-status").textContent = `${n} channel${n === 1 ? "" : "s"} answered, ${groups.length} distinct answer${groups.length === 1 ? "" : "s"}`;
}

async function openTerminal() {
  if (!selected) return;
  if (term) { term.dispose(); term = null; }
  const status = $("#terminal-status");
  status.className = "";
  status.textContent = "opening…";
  const r = await api("/tickets", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ alias: selected }),
  });
  if (!r.ok) { status.className = "bad"; status.textContent = `no ticket (${r.status})`; return; }
  const { ticket } = await r.json();
  term = new Terminal({ cursorBlink: true, fontSize: 14 });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open($("#terminal"));
  fit.fit();
  $("#terminal").scrollIntoView({ block: "nearest" }); // a terminal opened below the fold is on screen
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const q = new URLSearchParams({ ticket, cols: term.cols, rows: term.rows });
  const ws = new WebSocket(`${scheme}://${location.host}/channels/${encodeURIComponent(selected)}/terminal?${q}`);
  ws.binaryType = "arraybuffer";
  const mine = term;
  ws.onopen = () => { status.textContent = `terminal on ${selected}`; mine.focus(); };
  ws.onmessage = (m) => {
    if (typeof m.data === "string") {
      const end = JSON.parse(m.data);
      status.textContent = end.link_lost ? "the link was lost; the channel reconnects" : end.type === "exit" ? `ended: exit ${end.exit_code ?? end.signal}` : `ended: ${end.message}`;
    } else mine.write(new Uint8Array(m.data));
  };
  ws.onclose = (e) => {
    if (e.code !== 1000) { status.className = "bad"; status.textContent = `closed (${e.code}): ${e.reason || "the connection went away"}`; }
  };
  const encoder = new TextEncoder();
  mine.onData((d) => { if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(d)); });
  mine.onResize(({ cols, rows }) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "resize", cols, rows })); });
  new ResizeObserver(() => fit.fit()).observe($("#terminal"));
}

function start() {
  $("#token-form").hidden = true;
  $("#page").hidden = false;
  $("#change-token").hidden = false;
  poll();
}

$("#token-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  token = $("#token-input").value.trim();
  const r = await fetch("/channels", { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } });
  if (r.status === 401) { ask("The daemon refused that token (401); enter it again."); return; }
  sessionStorage.setItem(KEY, token);
  start();
});
$("#change-token").addEventListener("click", () => ask(""));
$("#run-form").addEventListener("submit", run);
$("#open-terminal").addEventListener("click", openTerminal);
$("#close-detail").addEventListener("click", () => { $("#detail").hidden = true; selected = null; if (term) { term.dispose(); term = null; } });
if (token) start(); else ask("");
