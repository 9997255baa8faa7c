"use strict";
// The video wall: camera tiles, a grid map and the incident list, kept current by the live feed.
const incidents = new Map();
const state = { cameras: [], grids: null, alertCamera: null, alertUntil: 0, timeZone: undefined };

const $ = (sel) => document.querySelector(sel);
// Times are shown in the county's zone (Asia/Shanghai), whatever the browser's own zone is.
const fmtTime = (iso) => iso ? new Date(iso).toLocaleTimeString("zh-CN", { hour12: false, timeZone: state.timeZone }) : "—";

async function getJSON(url) {
  const res = await fetch(url);
  if (res.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); throw new Error("signed out"); }
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.json();
}

function renderWall() {
  const wall = $("#wall");
  for (const cam of state.cameras) {
    let tile = document.getElementById(`tile-${cam.id}`);
    if (!tile) {
      tile = document.createElement("div");
      tile.className = "tile";
      tile.id = `tile-${cam.id}`;
      tile.innerHTML = `<div class="media"><video autoplay muted playsinline></video>
        <img alt="${cam.name}" hidden><canvas class="overlay"></canvas></div>
        <div class="cap"><b>${cam.name}</b><span class="cam-state"></span></div>`;
      wall.appendChild(tile);
      playLive(cam, tile);
    }
    tile.classList.toggle("alert", state.alertCamera === cam.id && Date.now() < state.alertUntil);
    tile.querySelector(".cam-state").textContent = `${cam.id} · ${cam.status.state}`;
  }
}

// Live video: WebRTC (WHEP) with the detections drawn from its data channel; MJPEG (boxes drawn by the
// server) when WebRTC cannot connect within a few seconds.
async function playLive(cam, tile) {
  const video = tile.querySelector("video");
  try {
    await Promise.race([startWebRTC(cam, tile, video), new Promise((_, no) => setTimeout(() => no(new Error("timeout")), 8000))]);
    tile.dataset.media = "webrtc";
  } catch (err) {
    console.warn(`WebRTC for ${cam.id} failed (${err.message}); using MJPEG`);
    video.hidden = true;
    tile.querySelector("canvas").hidden = true;
    const img = tile.querySelector("img");
    img.src = `/api/cameras/${encodeURIComponent(cam.id)}/mjpeg`;
    img.hidden = false;
    tile.dataset.media = "mjpeg";
  }
}

async function startWebRTC(cam, tile, video) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addTransceiver("video", { direction: "recvonly" });
  const channel = pc.createDataChannel("detections");
  channel.onmessage = (e) => drawOverlay(tile, JSON.parse(e.data));
  const playing = new Promise((ok) => { video.onplaying = ok; });
  pc.ontrack = (e) => { video.srcObject = e.streams[0] || new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  // WHEP without trickle: send the offer once all (loopback) candidates are in it.
  await new Promise((ok) => {
    if (pc.iceGatheringState === "complete") return ok();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && ok();
    setTimeout(ok, 2000);
  });
  const res = await fetch(`/api/cameras/${encodeURIComponent(cam.id)}/whep`, {
    method: "POST", headers: { "Content-Type": "application/sdp" }, body: pc.localDescription.sdp,
  });
  if (res.status !== 201) throw new Error(`WHEP ${res.status}`);
  tile.dataset.session = res.headers.get("Location") || "";
  await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
  await playing;
}

function drawOverlay(tile, msg) {
  const video = tile.querySelector("video"), canvas = tile.querySelector("canvas");
  const w = video.clientWidth, h = video.clientHeight;
  if (!w || !h) return;
  canvas.width = w; canvas.height = h;
  const [fw, fh] = msg.size;
  const s = Math.min(w / fw, h / fh), ox = (w - fw * s) / 2, oy = (h - fh * s) / 2;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  ctx.lineWidth = 1.5;
  for (const z of msg.zones) {
    ctx.strokeStyle = { crowd: "#d29922", occupation: "#58a6ff", fire: "#f85149", line: "#39d0d8" }[z.kind] || "#8b949e";
    ctx.beginPath();
    z.polygon.forEach(([x, y], i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, ox + x * s, oy + y * s));
    ctx.closePath(); ctx.stroke();
  }
  ctx.strokeStyle = "#3fb950"; ctx.lineWidth = 2;
  for (const b of msg.boxes) {
    const [x1, y1, x2, y2] = b.xyxy;
    ctx.strokeRect(ox + x1 * s, oy + y1 * s, (x2 - x1) * s, (y2 - y1) * s);
  }
  tile.dataset.boxes = String(msg.boxes.length);
}

function project(bounds, lon, lat) {
  const [minX, minY, maxX, maxY] = bounds;
  const s = Math.min(380 / (maxX - minX), 240 / (maxY - minY));
  return [10 + (lon - minX) * s, 250 - (lat - minY) * s];
}

function renderMap() {
  if (!state.grids) return;
  const rings = state.grids.features.flatMap((f) =>
    f.geometry.type === "Polygon" ? [f.geometry.coordinates[0]] : f.geometry.coordinates.map((p) => p[0]));
  const xs = rings.flat().map((p) => p[0]), ys = rings.flat().map((p) => p[1]);
  const bounds = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  const hot = new Map();
  for (const inc of incidents.values()) {
    if (isOpen(inc) && inc.place.grid_code) hot.set(inc.place.grid_code, (hot.get(inc.place.grid_code) || 0) + 1);
  }
  const svg = $("#map");
  svg.innerHTML = "";
  for (const f of state.grids.features) {
    const polys = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
    for (const poly of polys) {
      const d = poly[0].map((p, i) => (i ? "L" : "M") + project(bounds, p[0], p[1]).map((v) => v.toFixed(1)).join(",")).join("") + "Z";
      const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
      path.setAttribute("d", d);
      path.dataset.code = f.properties.code;
      if (hot.get(f.properties.code)) path.classList.add("hot");
      const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
      title.textContent = `${f.properties.name} ${f.properties.code}`;
      path.appendChild(title);
      svg.appendChild(path);
    }
    const ring = polys[0][0];
    const cx = ring.reduce((a, p) => a + p[0], 0) / ring.length, cy = ring.reduce((a, p) => a + p[1], 0) / ring.length;
    const [tx, ty] = project(bounds, cx, cy);
    const label = document.createElementNS("http://www.w3.org/2000/svg", "text");
    label.setAttribute("x", tx); label.setAttribute("y", ty);
    label.textContent = f.properties.name;
    svg.appendChild(label);
  }
  for (const cam of state.cameras) {
    const [x, y] = project(bounds, cam.mount.lon, cam.mount.lat);
    const dot = document.createElementNS("http://www.w3.org/2000/svg", "circle");
    dot.setAttribute("cx", x); dot.setAttribute("cy", y); dot.setAttribute("r", 4);
    svg.appendChild(dot);
  }
}

const OPEN = new Set(["reported", "dispatched", "accepted", "in_progress", "returned", "reopened"]);
const isOpen = (inc) => OPEN.has(inc.state);

function renderIncidents(freshId) {
  const list = $("#incidents");
  const sorted = [...incidents.values()].sort((a, b) => (b.opened_at || "").localeCompare(a.opened_at || ""));
  list.innerHTML = "";
  for (const inc of sorted) {
    const li = document.createElement("li");
    li.className = `sev-${inc.severity}` + (inc.id === freshId ? " new" : "");
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
      <div class="row"><span class="meta">${inc.category_code} · ${inc.place.grid_code || inc.place.unit_code}</span>
        <span class="actions"></span></div>`;
    li.querySelector(".title").textContent = inc.title;
    li.querySelector(".grid").textContent = grid;
    li.querySelector(".who").textContent = `→ ${who}`;
    // Only the steps the server says this operator may take now: the buttons are the permission table.
    for (const action of inc.actions || []) {
      if (NEEDS_INPUT.has(action)) continue;
      const b = document.createElement("button");
      b.textContent = STEP_LABELS[action] || action; b.dataset.action = action;
      b.addEventListener("click", () => takeStep(inc, action));
      li.querySelector(".actions").appendChild(b);
    }
    list.appendChild(li);
  }
  $("#open-count").textContent = sorted.filter(isOpen).length;
}

const STEP_LABELS = {
  file: "立案 File", dispatch: "派遣 Dispatch", escalate: "升级 Escalate", verify: "核查 Verify",
  close: "结案 Close", reopen: "返工 Reopen",
};
// Steps that need a choice the list has no room for (a reason, a rating, a person): the detail page asks.
const NEEDS_INPUT = new Set(["return", "reject", "evaluate", "reassign"]);

async function takeStep(inc, action) {
  const res = await fetch(`/api/incidents/${inc.id}/transitions`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ action, expected_state: inc.state }),
  });
  if (res.ok) upsert(await res.json());
  else alert((await res.json()).detail);
}

function upsert(inc, fresh = false) {
  incidents.set(inc.id, inc);
  if (fresh) { state.alertCamera = inc.camera_id; state.alertUntil = Date.now() + 15000; }
  renderIncidents(fresh ? inc.id : null);
  renderMap();
  renderWall();
}

function connectFeed() {
  const es = new EventSource("/api/stream");
  es.onopen = () => { $("#feed-state").className = "on"; };
  es.onerror = () => { $("#feed-state").className = "off"; };
  for (const type of ["incident.opened", "incident.updated"]) {
    es.addEventListener(type, (e) => {
      const msg = JSON.parse(e.data);
      upsert(msg.incident, type === "incident.opened");
    });
  }
}

async function refreshCameras() {
  state.cameras = await getJSON("/api/cameras");
  renderWall();
}

async function main() {
  const me = await getJSON("/api/auth/me");
  $("#user").innerHTML = "";
  $("#user").append(`${me.name} · ${me.role} `);
  const out = document.createElement("a");
  out.href = "#"; out.textContent = "退出";
  out.onclick = async (e) => { e.preventDefault(); await fetch("/api/auth/logout", { method: "POST" }); location.href = "/login"; };
  $("#user").append(out);
  const [site, cams, grids, page] = await Promise.all([
    getJSON("/api/site"), getJSON("/api/cameras"), getJSON("/api/grids"), getJSON("/api/incidents?limit=100"),
  ]);
  state.timeZone = site.timezone; state.cameras = cams; state.grids = grids;
  const county = grids.features[0]?.properties;
  $("#site").textContent = county ? `${county.township_name} · ${grids.features.length} 网格 · ${cams.length} 路视频` : "";
  for (const inc of page.items) incidents.set(inc.id, inc);
  renderWall(); renderMap(); renderIncidents(null);
  connectFeed();
  setInterval(refreshCameras, 5000);
  setInterval(() => { $("#clock").textContent = new Date().toLocaleString("zh-CN", { hour12: false, timeZone: state.timeZone }); renderWall(); }, 1000);
}

main().catch((err) => { document.body.insertAdjacentHTML("afterbegin", `<p class="error">${err}</p>`); });
