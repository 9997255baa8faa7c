"use strict";
// The video wall: an N×N grid of tiles that follows the open incidents (most severe, then oldest, first;
// pinned tiles stay where the operator put them; cameras with no incident fill what is left), the grid map
// and the incident list, kept current by the live feed. The buttons are the incident's `actions` as the
// server lists them for this operator: the page never decides who may do what.
const incidents = new Map();
const details = new Map(); // incident id → its detail (zone, snapshot), fetched once per tile
const feeds = new Map(); // camera id → one live connection shared by every tile showing that camera
const state = { cameras: [], alertCamera: null, alertUntil: 0, timeZone: undefined, reasons: {}, layout: 2, pins: {} };
const LAYOUT_KEY = "gridwatch.wall.layout", PINS_KEY = "gridwatch.wall.pins";
const LAYOUTS = [1, 2, 3, 4];
let map;

const $ = (sel) => document.querySelector(sel);
// Times are shown in the county's zone (Asia/Shanghai), whatever the browser's own zone is.
const fmtTime = (iso) => iso ? new Date(iso).toLocaleTimeString("zh-CN", { hour12: false, timeZone: state.timeZone }) : "—";
const OPEN = new Set(["reported", "dispatched", "accepted", "en_route", "in_progress", "returned", "reopened"]);
const isOpen = (inc) => Boolean(inc) && OPEN.has(inc.state);
// On the wall: open cases, and resolved ones the centre still has to verify.
const onWall = (inc) => isOpen(inc) || (inc?.state === "resolved" && (inc.actions || []).includes("verify"));
const bySeverityThenAge = (a, b) => b.severity_level - a.severity_level || (a.opened_at || "").localeCompare(b.opened_at || "");
const cameraOf = (id) => state.cameras.find((c) => c.id === id);

const STEP_LABELS = {
  file: "立案 File", dispatch: "派遣 Dispatch", reassign: "改派 Reassign", escalate: "升级 Escalate",
  accept: "接单 Accept", depart: "出发 On the way", start: "到场处置 Start", resolve: "办结 Resolve",
  verify: "核查 Verify", close: "结案 Close", evaluate: "评价 Evaluate", return: "退回 Return",
  reject: "不予立案 Reject", reopen: "返工 Reopen",
};
// Steps the server refuses without a choice: the dialog asks for it before anything is sent.
const ASKS = { return: "reason", reject: "reason", evaluate: "rating", reassign: "assignee" };

async function getJSON(url) {
  const res = await fetch(url);
  if (res.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); throw new Error("signed out"); }
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.json();
}

// ---- tiles ----

function slotKeys() {
  const n = state.layout * state.layout;
  const keys = new Array(n).fill(null);
  const live = (key) => key.startsWith("inc:") ? onWall(incidents.get(key.slice(4))) : Boolean(cameraOf(key.slice(4)));
  let pinsChanged = false;
  for (const [slot, key] of Object.entries(state.pins)) {
    if (!live(key)) { delete state.pins[slot]; pinsChanged = true; } else if (Number(slot) < n) keys[Number(slot)] = key;
  }
  if (pinsChanged) localStorage.setItem(PINS_KEY, JSON.stringify(state.pins));
  const shown = new Set(keys.filter(Boolean));
  const place = (key) => {
    const slot = keys.indexOf(null);
    if (slot >= 0 && !shown.has(key)) { keys[slot] = key; shown.add(key); }
  };
  const all = [...incidents.values()].sort(bySeverityThenAge);
  for (const inc of all.filter(isOpen)) place(`inc:${inc.id}`);
  // Then the cases the centre itself must act on next: resolved ones waiting for verification.
  for (const inc of all.filter((i) => i.state === "resolved" && (i.actions || []).includes("verify"))) place(`inc:${inc.id}`);
  // Then every camera's whole picture (all zones, all detections), the wall's overview.
  for (const cam of state.cameras) place(`cam:${cam.id}`);
  return keys.map((k, i) => k || `idle:${i}`);
}

function renderWall() {
  const wall = $("#wall");
  wall.style.setProperty("--n", state.layout);
  const keys = slotKeys();
  while (wall.children.length > keys.length) dropTile(wall.lastElementChild);
  while (wall.children.length < keys.length) {
    const slot = document.createElement("div");
    slot.dataset.slot = String(wall.children.length);
    wall.appendChild(slot);
  }
  keys.forEach((key, i) => {
    const tile = wall.children[i];
    if (tile.dataset.key !== key) buildTile(tile, key);
    updateTile(tile);
  });
}

function dropTile(tile) {
  tile.feed?.tiles.delete(tile);
  tile.remove();
}

function buildTile(tile, key) {
  tile.feed?.tiles.delete(tile);
  tile.feed = null;
  const [kind, id] = [key.slice(0, key.indexOf(":")), key.slice(key.indexOf(":") + 1)];
  tile.className = `tile ${kind === "inc" ? "incident" : kind === "cam" ? "camera" : "idle"}`;
  for (const k of ["key", "kind", "incident", "camera", "media", "boxes", "session"]) delete tile.dataset[k];
  tile.dataset.key = key;
  tile.dataset.kind = tile.classList[1];
  if (kind === "idle") {
    tile.innerHTML = `<div class="media"><p class="idle-note">空闲 · no open incident for this tile</p></div>`;
    return;
  }
  const cam = kind === "cam" ? cameraOf(id) : cameraOf(incidents.get(id).camera_id);
  if (kind === "inc") tile.dataset.incident = id;
  tile.innerHTML = `<div class="media"><video autoplay muted playsinline></video><img class="mjpeg" alt="" hidden>
      <svg class="overlay" preserveAspectRatio="xMidYMid meet"><g class="zones"></g><g class="boxes"></g></svg>
      <img class="evidence" alt="证据 snapshot" hidden></div>
    <div class="cap"><div class="row"><b class="name"></b><span class="right"><span class="state"></span>
      <button class="pin" type="button" title="固定在此 pin this tile here">固定</button></span></div>
      <div class="row meta"><span class="info"></span><span class="actions"></span></div></div>`;
  tile.querySelector(".pin").addEventListener("click", () => togglePin(tile));
  if (kind === "inc") tile.querySelector(".name").addEventListener("click", () => pick(id));
  if (!cam) return;
  tile.dataset.camera = cam.id;
  const [fw, fh] = cam.frame_size;
  tile.querySelector("svg.overlay").setAttribute("viewBox", `0 0 ${fw} ${fh}`);
  tile.querySelector(".mjpeg").alt = cam.name;
  if (kind === "cam") drawZones(tile, cam, null);
  else showEvidence(tile, cam, id);
  attachFeed(tile, cam);
}

function updateTile(tile) {
  if (tile.dataset.kind === "idle") return;
  const pinned = Object.values(state.pins).includes(tile.dataset.key);
  tile.classList.toggle("pinned", pinned);
  tile.querySelector(".pin").setAttribute("aria-pressed", String(pinned));
  const cam = cameraOf(tile.dataset.camera);
  tile.classList.toggle("alert", Boolean(cam) && state.alertCamera === cam.id && Date.now() < state.alertUntil);
  if (tile.dataset.kind === "camera") {
    tile.querySelector(".name").textContent = cam ? cam.name : tile.dataset.key;
    tile.querySelector(".info").textContent = cam ? `${cam.id} · ${cam.status.state}` : "";
    return;
  }
  const inc = incidents.get(tile.dataset.incident);
  tile.classList.remove("sev-low", "sev-medium", "sev-high", "sev-critical");
  tile.classList.add(`sev-${inc.severity}`);
  tile.querySelector(".name").textContent = inc.title;
  tile.querySelector(".state").textContent = inc.state;
  const who = inc.assignee ? inc.assignee.name : "无人值班";
  tile.querySelector(".info").textContent = `${fmtTime(inc.opened_at)} · ${who} · ${cam ? cam.name : inc.camera_id || ""}`;
  const acts = tile.querySelector(".actions");
  if (acts.dataset.of !== `${inc.id}:${inc.version}:${(inc.actions || []).join()}`) {
    acts.dataset.of = `${inc.id}:${inc.version}:${(inc.actions || []).join()}`;
    fillActions(acts, inc);
  }
}

function togglePin(tile) {
  const slot = tile.dataset.slot, key = tile.dataset.key;
  if (state.pins[slot] === key) delete state.pins[slot];
  else {
    for (const [s, k] of Object.entries(state.pins)) if (k === key) delete state.pins[s];
    state.pins[slot] = key;
  }
  localStorage.setItem(PINS_KEY, JSON.stringify(state.pins));
  renderWall();
}

function setLayout(n) {
  state.layout = LAYOUTS.includes(n) ? n : 2;
  localStorage.setItem(LAYOUT_KEY, String(state.layout));
  for (const b of document.querySelectorAll("#layout button")) b.setAttribute("aria-pressed", String(Number(b.dataset.layout) === state.layout));
  renderWall();
}

function drawZones(tile, cam, zoneName) {
  const g = tile.querySelector("g.zones");
  g.innerHTML = "";
  for (const z of cam.zones) {
    if (zoneName !== null && z.name !== zoneName) continue;
    const poly = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
    poly.setAttribute("points", z.polygon_px.map((p) => p.join(",")).join(" "));
    poly.setAttribute("class", `zone-${z.kind}` + (zoneName !== null ? " incident-zone" : ""));
    poly.dataset.zone = z.name;
    g.appendChild(poly);
  }
}

// The incident's zone over the live picture, and the snapshot it opened with in a corner of the tile.
async function showEvidence(tile, cam, id) {
  if (!details.has(id)) details.set(id, getJSON(`/api/incidents/${id}`).catch(() => null));
  const detail = await details.get(id);
  if (!detail || tile.dataset.incident !== id) return;
  const event = detail.events[0];
  drawZones(tile, cam, event?.zone_name ?? "");
  const shot = event?.evidence.find((e) => e.role === "snapshot");
  if (shot) {
    const img = tile.querySelector("img.evidence");
    img.src = `${shot.url}?reason=${encodeURIComponent("wall")}`;
    img.hidden = false;
  }
}

// ---- live video: WebRTC (WHEP) with detections from its data channel; MJPEG if WebRTC cannot connect ----

function attachFeed(tile, cam) {
  let feed = feeds.get(cam.id);
  if (!feed) {
    feed = { cam, media: null, stream: null, last: null, tiles: new Set() };
    feeds.set(cam.id, feed);
    startFeed(feed);
  }
  feed.tiles.add(tile);
  tile.feed = feed;
  showFeed(tile, feed);
}

function showFeed(tile, feed) {
  if (!feed.media) return;
  const video = tile.querySelector("video"), img = tile.querySelector("img.mjpeg");
  if (feed.media === "webrtc") {
    // The tile says it shows WebRTC once its own element plays the shared stream, not before.
    if (video.srcObject !== feed.stream) {
      video.onplaying = () => { tile.dataset.media = "webrtc"; };
      video.srcObject = feed.stream;
    }
  } else {
    tile.dataset.media = "mjpeg";
    video.hidden = true;
    tile.querySelector("g.boxes").innerHTML = "";
    if (!img.src) img.src = `/api/cameras/${encodeURIComponent(feed.cam.id)}/mjpeg`;
    img.hidden = false;
  }
  if (feed.last) drawBoxes(tile, feed.last);
}

async function startFeed(feed) {
  try {
    await Promise.race([startWebRTC(feed), new Promise((_, no) => setTimeout(() => no(new Error("timeout")), 8000))]);
    feed.media = "webrtc";
  } catch (err) {
    console.warn(`WebRTC for ${feed.cam.id} failed (${err.message}); using MJPEG`);
    feed.media = "mjpeg";
  }
  for (const tile of feed.tiles) showFeed(tile, feed);
}

async function startWebRTC(feed) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addTransceiver("video", { direction: "recvonly" });
  const channel = pc.createDataChannel("detections");
  channel.onmessage = (e) => {
    feed.last = JSON.parse(e.data);
    if (feed.media === "webrtc") for (const tile of feed.tiles) drawBoxes(tile, feed.last);
  };
  // One connection per camera however many tiles show it: a probe element says when the picture plays.
  const probe = document.createElement("video");
  probe.muted = true; probe.playsInline = true;
  const playing = new Promise((ok) => { probe.onplaying = ok; });
  pc.ontrack = (e) => {
    feed.stream = e.streams[0] || new MediaStream([e.track]);
    probe.srcObject = feed.stream;
    probe.play().catch(() => {});
  };
  await pc.setLocalDescription(await pc.createOffer());
  // WHEP without trickle: send the offer once all (loopback) candidates are in it.
  await new Promise((ok) => {
    if (pc.iceGatheringState === "complete") return ok();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && ok();
    setTimeout(ok, 2000);
  });
  const res = await fetch(`/api/cameras/${encodeURIComponent(feed.cam.id)}/whep`, {
    method: "POST", headers: { "Content-Type": "application/sdp" }, body: pc.localDescription.sdp,
  });
  if (res.status !== 201) throw new Error(`WHEP ${res.status}`);
  feed.session = res.headers.get("Location") || "";
  await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
  await playing;
}

function drawBoxes(tile, msg) {
  const svg = tile.querySelector("svg.overlay");
  if (!svg) return;
  svg.setAttribute("viewBox", `0 0 ${msg.size[0]} ${msg.size[1]}`);
  const g = svg.querySelector("g.boxes");
  g.innerHTML = msg.boxes.map((b) => {
    const [x1, y1, x2, y2] = b.xyxy;
    return `<rect x="${x1}" y="${y1}" width="${x2 - x1}" height="${y2 - y1}"></rect>`;
  }).join("");
  tile.dataset.boxes = String(msg.boxes.length);
}

// ---- actions ----

function fillActions(container, inc) {
  container.innerHTML = "";
  for (const action of inc.actions || []) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = STEP_LABELS[action] || action;
    b.dataset.action = action;
    b.addEventListener("click", () => (ASKS[action] ? askStep(inc.id, action) : takeStep(inc.id, action, {})));
    container.appendChild(b);
  }
}

function askStep(id, action) {
  const inc = incidents.get(id), dialog = $("#step"), form = $("#step-form");
  form.reset();
  form.dataset.id = id; form.dataset.action = action;
  $("#step-title").textContent = `${STEP_LABELS[action] || action} · ${inc.title}`;
  const reason = form.elements.reason;
  reason.innerHTML = "";
  for (const [code, text] of Object.entries(state.reasons[action] || {})) reason.add(new Option(text, code));
  for (const [ask, row] of [["reason", "#ask-reason"], ["rating", "#ask-rating"], ["assignee", "#ask-assignee"]]) {
    $(row).hidden = ASKS[action] !== ask;
    $(row).querySelector("select, input").required = ASKS[action] === ask;
  }
  $("#step-error").textContent = "";
  dialog.showModal();
}

async function submitStep(e) {
  e.preventDefault();
  const form = e.target, action = form.dataset.action, ask = ASKS[action];
  const body = { note: form.elements.note.value };
  if (ask === "reason") body.reason = form.elements.reason.value;
  if (ask === "rating") body.rating = Number(form.elements.rating.value);
  if (ask === "assignee") body.assignee_id = form.elements.assignee_id.value.trim();
  const problem = await takeStep(form.dataset.id, action, body);
  if (problem) $("#step-error").textContent = problem;
  else $("#step").close();
}

// Returns null when the step was taken, else the server's reason (shown where the operator acted).
async function takeStep(id, action, body) {
  const inc = incidents.get(id);
  const res = await fetch(`/api/incidents/${id}/transitions`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ action, expected_state: inc.state, ...body }),
  });
  if (res.ok) { upsert(await res.json()); return null; }
  const detail = (await res.json().catch(() => ({}))).detail;
  const problem = typeof detail === "string" ? detail : JSON.stringify(detail || res.status);
  if (!ASKS[action]) alert(problem);
  return problem;
}

// ---- list, map, feed ----

function renderIncidents(freshId) {
  const list = $("#incidents");
  const sorted = [...incidents.values()].sort((a, b) => (b.opened_at || "").localeCompare(a.opened_at || ""));
  list.innerHTML = "";
  for (const inc of sorted) {
    const li = document.createElement("li");
    li.className = `sev-${inc.severity}` + (inc.id === freshId ? " new" : "") + (isOpen(inc) ? "" : " done");
    li.dataset.id = inc.id;
    const grid = inc.place.chain.map((u) => u.name).slice(1).join(" › ");
    const who = inc.assignee ? `${inc.assignee.name} ${inc.assignee.phone}` : "无人值班";
    const late = inc.accept_by && inc.state === "dispatched" && new Date(inc.accept_by) < new Date();
    li.innerHTML = `
      <div class="row"><span class="title"></span><span class="state">${inc.state}</span></div>
      <div class="meta grid"></div>
      <div class="row meta"><span class="who"></span><span>×${inc.event_count}</span></div>
      <div class="row meta"><span>${fmtTime(inc.opened_at)} · ${inc.department}</span>
        <span class="due ${late ? "late" : ""}">受理时限 ${fmtTime(inc.accept_by)}</span></div>
      <div class="row"><span class="meta">${inc.category_code} · ${inc.place.grid_code || inc.place.unit_code}</span></div>
      <div class="row"><span class="meta catalogue"></span></div>
      <div class="actions"></div>`;
    li.querySelector(".title").textContent = inc.title;
    li.querySelector(".catalogue").textContent = inc.catalogue ? `分类 ${inc.catalogue.path}` : "";
    li.querySelector(".grid").textContent = grid;
    li.querySelector(".who").textContent = `→ ${who}`;
    fillActions(li.querySelector(".actions"), inc);
    list.appendChild(li);
  }
  $("#open-count").textContent = sorted.filter(isOpen).length;
}

function pick(id) {
  map.highlight(id);
  const li = document.querySelector(`#incidents li[data-id="${id}"]`);
  if (!li) return;
  for (const other of document.querySelectorAll("#incidents li.picked")) other.classList.remove("picked");
  li.classList.add("picked");
  li.scrollIntoView({ block: "nearest" });
}

function upsert(inc, fresh = false) {
  incidents.set(inc.id, inc);
  if (fresh) { state.alertCamera = inc.camera_id; state.alertUntil = Date.now() + 15000; }
  renderIncidents(fresh ? inc.id : null);
  map.setIncidents([...incidents.values()].filter(isOpen));
  renderWall();
}

// Every topic the outbox announces a change of an incident under (models/store: incidents, timers, events).
const FEED_TOPICS = ["incident.opened", "incident.updated", "incident.escalated", "incident.verified",
  "incident.reopened"];

function connectFeed() {
  const es = new EventSource("/api/stream");
  es.onopen = () => { $("#feed-state").className = "on"; };
  es.onerror = () => { $("#feed-state").className = "off"; };
  for (const type of FEED_TOPICS) {
    es.addEventListener(type, (e) => {
      const inc = JSON.parse(e.data).incident;
      upsert(inc, type === "incident.opened");
      if (inc.kind === "link_down") refreshLinks();
    });
  }
}

// The county link: one chip per township (link up or down, lag, nodes, cameras, a skewed clock), refreshed
// every few seconds and at once when a link problem comes over the feed.
async function refreshLinks() {
  let rows;
  try { rows = await getJSON("/api/health/townships"); } catch { return; }
  // A county of 30 townships would not fit the header: past 8, the healthy ones are one summary chip.
  const healthy = (t) => t.link_up && !t.lag_messages && !t.nodes.some((n) => n.skewed || n.stale);
  const shown = rows.length > 8 ? rows.filter((t) => !healthy(t)) : rows;
  const chips = shown.map((t) => {
    const chip = document.createElement("span");
    const live = t.nodes.filter((n) => !n.stale);
    const skewed = live.some((n) => n.skewed);
    const cameras = live.reduce((sum, n) => sum + n.cameras, 0);
    chip.className = `link ${t.link_up ? (t.lag_messages ? "lag" : "up") : "down"}${skewed ? " skewed" : ""}`;
    chip.dataset.township = t.code;
    const lag = t.lag_messages ? ` 滞后 ${t.lag_messages} 条 ${Math.round(t.lag_s)}s` : "";
    const name = t.code === "local" ? "本地" : (state.townshipNames?.[t.code] || t.code);
    chip.textContent = `${name} ${t.link_up ? "在线" : "断开"}${lag} · ${live.length} 节点 ${cameras} 路${skewed ? " · 时钟偏差" : ""}`;
    chip.title = t.nodes.map((n) => `${n.node_id}${n.stale ? " (失联 gone)" : ""}: ${n.cameras} 路, ${n.analysed_fps} fps, load ${n.load}, 时钟 ${n.skew_s > 0 ? "+" : ""}${n.skew_s}s`).join("\n");
    return chip;
  });
  if (shown.length < rows.length) {
    const summary = document.createElement("span");
    summary.className = "link up";
    summary.textContent = `${rows.length - shown.length} 乡镇在线 townships up`;
    chips.push(summary);
  }
  $("#links").replaceChildren(...chips);
}

async function refreshCameras() {
  const before = state.cameras.map((c) => c.id).join();
  state.cameras = await getJSON("/api/cameras");
  // A camera added or removed through the registry appears on (or leaves) the map as on the wall.
  if (state.cameras.map((c) => c.id).join() !== before) map.setCameras(state.cameras);
  renderWall();
}

function bindControls() {
  for (const b of document.querySelectorAll("#layout button")) b.addEventListener("click", () => setLayout(Number(b.dataset.layout)));
  $("#zoom-in").addEventListener("click", () => { const r = $("#map").getBoundingClientRect(); map.zoomAt(0.8, r.left + r.width / 2, r.top + r.height / 2); });
  $("#zoom-out").addEventListener("click", () => { const r = $("#map").getBoundingClientRect(); map.zoomAt(1.25, r.left + r.width / 2, r.top + r.height / 2); });
  $("#zoom-fit").addEventListener("click", () => map.fit());
  $("#step-form").addEventListener("submit", submitStep);
  $("#step-cancel").addEventListener("click", () => $("#step").close());
}

async function main() {
  try { state.pins = JSON.parse(localStorage.getItem(PINS_KEY) || "{}") || {}; } catch { state.pins = {}; }
  map = new GridMap($("#map"), pick);
  bindControls();
  const me = await getJSON("/api/auth/me");
  $("#user").innerHTML = "";
  $("#user").append(`${me.name} · ${me.role} `);
  const out = document.createElement("a");
  out.href = "#"; out.textContent = "退出";
  out.onclick = async (e) => { e.preventDefault(); await fetch("/api/auth/logout", { method: "POST" }); location.href = "/login"; };
  $("#user").append(out);
  // Every open case (the tiles follow them however old they are), and the latest of the others for the list.
  const [site, cams, grids, page, open, rules] = await Promise.all([
    getJSON("/api/site"), getJSON("/api/cameras"), getJSON("/api/grids"), getJSON("/api/incidents?limit=100"),
    getJSON("/api/incidents?open_only=true&limit=200"), getJSON("/api/casework"),
  ]);
  state.timeZone = site.timezone; state.cameras = cams; state.reasons = rules.reasons;
  const county = grids.features[0]?.properties;
  $("#site").textContent = county ? `${county.township_name} · ${grids.features.length} 网格 · ${cams.length} 路视频` : "";
  for (const inc of [...page.items, ...open.items]) incidents.set(inc.id, inc);
  map.setGrids(grids);
  // A grid's code starts with its township's (9 digits): the link strip names townships as the map does.
  state.townshipNames = Object.fromEntries(grids.features.map((f) => [f.properties.code.slice(0, 9), f.properties.township_name]));
  map.setCameras(cams);
  map.setIncidents([...incidents.values()].filter(isOpen));
  setLayout(Number(localStorage.getItem(LAYOUT_KEY)) || 2);
  renderIncidents(null);
  await openLinkedCase();
  connectFeed();
  setInterval(refreshCameras, 5000);
  refreshLinks();
  setInterval(refreshLinks, 5000);
  setInterval(() => { $("#clock").textContent = new Date().toLocaleString("zh-CN", { hour12: false, timeZone: state.timeZone }); renderWall(); }, 1000);
}

// A chat robot's or webhook's message links to its case as /?incident=<id>: show and pick it.
async function openLinkedCase() {
  const wanted = new URLSearchParams(location.search).get("incident");
  if (!wanted) return;
  if (!incidents.has(wanted)) {
    try { const inc = await getJSON(`/api/incidents/${encodeURIComponent(wanted)}`); incidents.set(inc.id, inc); } catch { return; }
    renderIncidents(null);
  }
  pick(wanted);
}

main().catch((err) => { document.body.insertAdjacentHTML("afterbegin", `<p class="error">${err}</p>`); });
