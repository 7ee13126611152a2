// svcctl ui: one snapshot at load, then the server-sent events of /events (a whole snapshot per
// change). No framework and nothing fetched from elsewhere.
"use strict";
window.svcctlLoadId = Math.random().toString(36).slice(2);  // the tests check the page never reloads
window.svcctlSnapshot = null;
window.svcctlDrawnAt = null;
const seen = new Set();

function esc(value) {
  return String(value === null || value === undefined ? "-" : value)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
function age(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${Math.floor(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
}
function since(epoch, now) { return epoch ? age(now - epoch) + " ago" : "-"; }
function clock(epoch) { return new Date(epoch * 1000).toLocaleTimeString([], { hour12: false }) + "." + String(Math.floor((epoch % 1) * 1000)).padStart(3, "0"); }
function rows(tbody, html) { document.querySelector(tbody).innerHTML = html.join(""); }
function badge(id, text, kind) { const el = document.getElementById(id); el.textContent = text; el.className = "badge " + (kind || ""); }

function gatewayServers(s) {
  const byAddress = {};
  if (!s.gateway) return byAddress;
  for (const service of s.gateway.services || []) {
    for (const server of service.servers) byAddress[`${service.service}/${server.server}`] = server;
  }
  return byAddress;
}

function render(s) {
  window.svcctlSnapshot = s;
  if (!window.svcctlDrawnAt) window.svcctlDrawnAt = performance.timeOrigin + performance.now();  // bench/ui.py
  document.getElementById("version").textContent = s.version;
  document.getElementById("project").textContent = `project ${s.project} · zk ${s.zk}${s.over_hosts ? " · over hosts" : ""}`;
  badge("health", s.health, s.health === "healthy" ? "ok" : s.health === "degraded" ? "warn" : "bad");
  const secure = s.security.mode !== "open";
  badge("security", secure ? `TLS+ACL · connected as ${s.security.identity}` : "open (no TLS)", secure ? "ok" : "warn");

  rows("#ensemble tbody", s.members.map(m => {
    const down = !["leader", "follower", "observer", "standalone"].includes(m.mode);
    return `<tr class="${down ? "down" : ""}" data-member="${esc(m.member)}" data-mode="${esc(m.mode)}">
      <td>${esc(m.container)}</td><td>${esc(m.member)}</td><td>${esc(m.state === "running" ? m.mode : `${m.mode} (${m.state})`)}</td>
      <td>${esc(m.zxid)}</td><td>${esc(m.connections)}</td><td>${esc(m.latency_avg)}/${esc(m.latency_max)}</td><td>${esc(m.znode_count)}</td></tr>`;
  }));
  rows("#registrators tbody", s.registrators.map(r => `<tr class="${r.role === "active" ? "active" : ""}" data-registrator="${esc(r.container)}" data-role="${esc(r.role)}">
      <td>${esc(r.container)}</td><td>${esc(r.state)}</td><td>${esc(r.role)}</td><td>${since(r.since, s.time)}</td><td>${esc(r.registrations)}</td></tr>`));

  const servers = gatewayServers(s);
  document.getElementById("gateway-note").textContent = s.gateway ? `gateway ${s.gateway.url}` : "(no gateway running: no HAProxy state)";
  const instanceRows = [];
  for (const [name, instances] of Object.entries(s.services)) {
    for (const i of instances) {
      const key = `${name}/${i.address}`;
      const server = servers[key] || {};
      const fresh = !seen.has(key) && window.svcctlSnapshot && seen.size > 0;
      instanceRows.push(`<tr class="${fresh ? "fresh" : ""}" data-service="${esc(name)}" data-address="${esc(i.address)}">
        <td>${esc(name)}</td><td>${esc(i.address)}</td><td>${esc(i.container_name)}</td><td>${esc(i.ip)}</td><td>${age(i.age_s)}</td>
        <td class="haproxy state-${esc(server.state)}">${s.gateway ? esc(server.state) : ""}</td><td>${s.gateway ? esc(server.rate) : ""}</td></tr>`);
    }
  }
  const keys = Object.entries(s.services).flatMap(([n, is]) => is.map(i => `${n}/${i.address}`));
  keys.forEach(k => seen.add(k));
  rows("#instances tbody", instanceRows);

  const tree = ["/services"];
  const names = Object.keys(s.services);
  names.forEach((name, n) => {
    const lastService = n === names.length - 1;
    tree.push(`${lastService ? "└── " : "├── "}${esc(name)}`);
    s.services[name].forEach((i, k) => {
      const path = `/services/${name}/${i.address}`;
      const diff = s.differences[path];
      const line = `${lastService ? "    " : "│   "}${k === s.services[name].length - 1 ? "└── " : "├── "}${esc(i.address)}  ${esc(i.container_name)}`;
      tree.push(diff ? `<span class="diff">${line}  ← ${esc(diff)}</span>` : line);
    });
  });
  for (const [path, diff] of Object.entries(s.differences)) {
    if (diff === "missing") tree.push(`<span class="diff">(missing) ${esc(path)}</span>`);
  }
  document.getElementById("tree").innerHTML = tree.join("\n");

  rows("#docker tbody", s.docker.map(d => {
    const diff = d.state === "running" && d.registered !== "yes";
    return `<tr class="${diff ? "diff" : ""}" data-container="${esc(d.container)}" data-registered="${esc(d.registered)}">
      <td>${esc(d.container)}</td><td>${esc(d.service)}</td><td>${esc(d.state)}</td><td>${esc(d.host_port)}</td><td>${esc(d.registered)}</td>
      <td>${d.state === "running" ? `<button class="stop" data-container="${esc(d.container)}">stop</button>` : ""}</td></tr>`;
  }));

  rows("#events tbody", s.events.slice().reverse().slice(0, 120).map(e => `<tr data-source="${esc(e.source)}">
      <td>${clock(e.time)}</td><td class="source">${esc(e.source)}</td><td>${esc(e.text)}</td><td>${e.latency_ms === null ? "" : esc(e.latency_ms) + " ms"}</td></tr>`));

  const a = s.action;
  const status = document.getElementById("action-status");
  status.dataset.running = a.running || "";
  status.dataset.last = a.last ? `${a.last.name}|${a.last.ok}` : "";
  status.textContent = a.running ? `running: ${a.running}…` : a.last ? `${a.last.name}: ${a.last.ok ? "done" : "FAILED"} — ${a.last.outcome} (${a.last.duration_s}s)` : "no action yet";
  const errors = Object.entries(s.errors || {});
  if (errors.length) status.textContent += " · " + errors.map(([k, v]) => `${k}: ${v}`).join("; ");
}

async function post(path, body) {
  const answer = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!answer.ok) {
    const data = await answer.json().catch(() => ({}));
    document.getElementById("action-status").textContent = `refused: ${data.error || answer.status}`;
  }
}

document.getElementById("scale-form").addEventListener("submit", ev => {
  ev.preventDefault();
  post("/api/scale", { service: document.getElementById("scale-service").value, count: Number(document.getElementById("scale-count").value) });
});
document.getElementById("scenario-form").addEventListener("submit", ev => {
  ev.preventDefault();
  post("/api/scenario", { name: document.getElementById("scenario-name").value });
});
document.getElementById("docker").addEventListener("click", ev => {
  const button = ev.target.closest("button.stop");
  if (button) post("/api/stop", { container: button.dataset.container });
});

fetch("/api/scenarios").then(r => r.json()).then(names => {
  const select = document.getElementById("scenario-name");
  const options = [...names.steps.map(n => [n, `step ${n}`]), ...names.faults.map(n => [n, n]), ...names.faults_over_hosts.map(n => [n, `${n} (over hosts)`])];
  select.innerHTML = options.map(([value, label]) => `<option value="${esc(value)}">${esc(label)}</option>`).join("");
});

function connect() {
  const source = new EventSource("/events");
  source.onopen = () => badge("connection", "live", "ok");
  source.onmessage = ev => render(JSON.parse(ev.data));
  source.onerror = () => badge("connection", "reconnecting", "warn");  // EventSource retries by itself
}
connect();
