// The KPI page: GET /api/kpis for the chosen range and grouping, one table row per group and the total.
"use strict";

const COLUMNS = [
  ["name", "名称 Name"],
  ["cases", "案件 Cases"],
  ["filed", "立案 Filed"],
  ["closure_rate", "结案率 Closure", "closed", "filed"],
  ["on_time_rate", "按期处置率 On time", "on_time", "due"],
  ["rework_rate", "返工率 Rework", "reworked", "resolved"],
  ["accept_p50_s", "接单 p50"], ["accept_p90_s", "接单 p90"],
  ["arrive_p50_s", "到场 p50"], ["arrive_p90_s", "到场 p90"],
  ["resolve_p50_s", "处置 p50"], ["resolve_p90_s", "处置 p90"],
  ["late_accept", "超时接单 Late accept"], ["late_arrive", "超时到场 Late arrive"],
  ["late_resolve", "超时处置 Late resolve"],
  ["duplicates_merged", "合并重复 Duplicates"],
  ["camera_share", "视频核查 Camera", "camera_verified", "verified"],
];

const form = document.getElementById("range");
const table = document.getElementById("kpis");
let by = new URLSearchParams(location.search).get("by") || "grid";

function localDay(d) {
  const z = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
  return z.toISOString().slice(0, 10);
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 3600) return `${Math.floor(seconds / 60)}′${String(seconds % 60).padStart(2, "0")}″`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}′`;
}

function cell(row, [key, , num, den]) {
  const td = document.createElement("td");
  td.dataset.col = key;
  const value = row[key];
  if (num) {
    td.textContent = value === null ? "—" : `${(value * 100).toFixed(2)}%`;
    const small = document.createElement("small");
    small.textContent = ` ${row[num]}/${row[den]}`;
    td.append(small);
  } else if (key.endsWith("_s")) {
    td.textContent = duration(value);
    td.title = value === null ? "" : `${value} s`;
  } else {
    td.textContent = value === null ? "—" : String(value);
    if (key.startsWith("late_") && value > 0) td.className = "late";
  }
  return td;
}

function rowOf(row) {
  const tr = document.createElement("tr");
  tr.dataset.key = row.key;
  for (const column of COLUMNS) tr.append(cell(row, column));
  return tr;
}

function query(extra) {
  const params = new URLSearchParams({ by, from: form.from.value, to: form.to.value, ...extra });
  return "/api/kpis?" + params.toString();
}

async function show() {
  document.querySelectorAll("#groupings button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.by === by)));
  document.getElementById("csv").href = query({ format: "csv" });
  document.getElementById("xlsx").href = query({ format: "xlsx" });
  history.replaceState(null, "", `/kpis?by=${by}&from=${form.from.value}&to=${form.to.value}`);
  const error = document.getElementById("error");
  error.textContent = "";
  table.dataset.state = "loading";
  const res = await fetch(query({}), { credentials: "same-origin" });
  if (res.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); return; }
  const body = await res.json();
  if (!res.ok) { error.textContent = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail); table.dataset.state = "error"; return; }
  const head = document.createElement("tr");
  for (const [, label] of COLUMNS) { const th = document.createElement("th"); th.textContent = label; head.append(th); }
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...body.rows.map(rowOf));
  table.tFoot.replaceChildren(rowOf(body.total));
  document.getElementById("asof").textContent =
    `${body.rows.length} 组 groups · 立案时间 opened ${body.from} – ${body.to} · 截至 as of ${body.as_of}`;
  table.dataset.state = "ready";
}

const params = new URLSearchParams(location.search);
const today = new Date();
form.to.value = params.get("to") || localDay(today);
form.from.value = params.get("from") || localDay(new Date(today.getTime() - 29 * 86400000));
form.addEventListener("submit", (e) => { e.preventDefault(); show(); });
document.getElementById("groupings").addEventListener("click", (e) => {
  const button = e.target.closest("button[data-by]");
  if (button) { by = button.dataset.by; show(); }
});
show();
