"use strict";
// The grid map: grids, cameras and open incidents in metres around the county's centre, zoomed with the
// wheel and panned by dragging (the SVG viewBox; no map library, nothing fetched from outside). Labels keep
// a constant size on screen and never overlap: a grid too small for its name at this zoom is named by its
// community instead, and any label that would still collide is left out until the operator zooms in.
const SVG_NS = "http://www.w3.org/2000/svg";
const LABEL_PX = 12;

function svgEl(tag, attrs = {}, cls = "") {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (cls) el.setAttribute("class", cls);
  return el;
}

const ringsOf = (g) => (g.type === "Polygon" ? [g.coordinates[0]] : g.coordinates.map((p) => p[0]));

function centroid(ring) {
  // Area-weighted (the shoelace formula): the vertex mean drifts towards the densely drawn side.
  let a = 0, cx = 0, cy = 0;
  for (let i = 0; i < ring.length - 1; i++) {
    const [x0, y0] = ring[i], [x1, y1] = ring[i + 1], f = x0 * y1 - x1 * y0;
    a += f; cx += (x0 + x1) * f; cy += (y0 + y1) * f;
  }
  if (Math.abs(a) < 1e-12) return ring[0];
  return [cx / (3 * a), cy / (3 * a)];
}

function bboxOf(points) {
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  return { x: Math.min(...xs), y: Math.min(...ys), w: Math.max(...xs) - Math.min(...xs), h: Math.max(...ys) - Math.min(...ys) };
}

const overlaps = (a, b, pad) =>
  a.x < b.x + b.width + pad && b.x < a.x + a.width + pad && a.y < b.y + b.height + pad && b.y < a.y + a.height + pad;

class GridMap {
  constructor(svg, onPick) {
    this.svg = svg;
    this.onPick = onPick;
    this.layers = {};
    for (const name of ["grids", "labels", "cameras", "incidents"]) {
      this.layers[name] = svgEl("g", {}, name);
      svg.appendChild(this.layers[name]);
    }
    this.labels = [];
    this.markers = [];
    this.view = null;
    this.full = null;
    this.bindGestures();
    new ResizeObserver(() => this.full && this.apply()).observe(svg);
  }

  // Metres east and south of the county's centre: at this scale the earth is flat enough.
  setGrids(collection) {
    const all = collection.features.flatMap((f) => ringsOf(f.geometry).flat());
    const b = bboxOf(all);
    const lon0 = b.x + b.w / 2, lat0 = b.y + b.h / 2, k = Math.cos((lat0 * Math.PI) / 180);
    this.project = ([lon, lat]) => [(lon - lon0) * k * 111320, -(lat - lat0) * 110574];
    this.layers.grids.innerHTML = "";
    this.layers.labels.innerHTML = "";
    this.labels = [];
    this.paths = new Map();
    const communities = new Map();
    for (const f of collection.features) {
      const p = f.properties;
      const rings = ringsOf(f.geometry).map((r) => r.map(this.project));
      const path = svgEl("path", { d: rings.map((r) => "M" + r.map((q) => q.map((v) => v.toFixed(1)).join(",")).join("L") + "Z").join("") });
      path.dataset.code = p.code;
      const title = svgEl("title");
      title.textContent = `${p.name} ${p.code} · ${p.community_name}`;
      path.appendChild(title);
      this.layers.grids.appendChild(path);
      this.paths.set(p.code, path);
      const label = this.addLabel(p.name, centroid(rings[0]), bboxOf(rings[0]), [p.code], "grid");
      // The API names a grid's community but gives no code for it: the township and name identify it.
      label.community = p.community_code || `${p.township_name}/${p.community_name || p.code}`;
      const c = communities.get(label.community) || { name: p.community_name || p.name, points: [], codes: [], grids: [] };
      c.points.push(...rings[0]); c.codes.push(p.code); c.grids.push(label);
      communities.set(label.community, c);
    }
    this.communities = [...communities.values()].map((c) => {
      const box = bboxOf(c.points);
      return { ...c, label: this.addLabel(c.name, [box.x + box.w / 2, box.y + box.h / 2], box, c.codes, "community") };
    });
    const pb = bboxOf(all.map(this.project));
    const pad = Math.max(pb.w, pb.h) * 0.04;
    this.full = { x: pb.x - pad, y: pb.y - pad, w: pb.w + 2 * pad, h: pb.h + 2 * pad };
    this.fit();
  }

  addLabel(text, at, box, codes, kind) {
    const el = svgEl("text", { x: at[0], y: at[1] }, `label ${kind}`);
    el.textContent = text;
    el.dataset.codes = codes.join(" ");
    this.layers.labels.appendChild(el);
    const label = { el, at, box, kind };
    this.labels.push(label);
    return label;
  }

  setCameras(cameras) {
    this.layers.cameras.innerHTML = "";
    this.markers = this.markers.filter((m) => m.kind !== "camera");
    for (const cam of cameras) {
      const g = svgEl("g", {}, "camera");
      g.dataset.camera = cam.id;
      g.appendChild(svgEl("path", { d: "M-7,-5h10l4,-3v16l-4,-3h-10z" }));
      const title = svgEl("title");
      title.textContent = `${cam.name} (${cam.id}) · ${cam.status?.state || ""}`;
      g.appendChild(title);
      this.layers.cameras.appendChild(g);
      this.markers.push({ el: g, at: this.project([cam.mount.lon, cam.mount.lat]), kind: "camera" });
    }
    this.placeMarkers();
  }

  setIncidents(open) {
    this.layers.incidents.innerHTML = "";
    this.markers = this.markers.filter((m) => m.kind !== "incident");
    const hot = new Set(open.map((i) => i.place.grid_code).filter(Boolean));
    for (const [code, path] of this.paths || []) path.classList.toggle("hot", hot.has(code));
    for (const inc of open) {
      const at = this.project([inc.place.lon, inc.place.lat]);
      const g = svgEl("g", {}, `incident sev-${inc.severity}`);
      g.dataset.id = inc.id;
      g.appendChild(svgEl("circle", { r: 7 }));
      const title = svgEl("title");
      title.textContent = `${inc.title} · ${inc.state}`;
      g.appendChild(title);
      g.addEventListener("click", () => this.onPick(inc.id));
      this.layers.incidents.appendChild(g);
      this.markers.push({ el: g, at, kind: "incident" });
    }
    this.placeMarkers();
  }

  highlight(id) {
    for (const g of this.layers.incidents.children) g.classList.toggle("picked", g.dataset.id === id);
  }

  // Units per screen pixel; the viewBox always has the element's aspect, so the scale is the same both ways.
  get upp() { return this.view.w / Math.max(1, this.svg.clientWidth); }

  fit() {
    const { x, y, w, h } = this.full;
    const cw = Math.max(1, this.svg.clientWidth), ch = Math.max(1, this.svg.clientHeight);
    const s = Math.max(w / cw, h / ch);
    this.view = { x: x + w / 2 - (cw * s) / 2, y: y + h / 2 - (ch * s) / 2, w: cw * s, h: ch * s };
    this.lastWidth = cw;
    this.apply();
  }

  apply() {
    // A resize keeps the centre and the scale; only the visible extent changes.
    const cw = Math.max(1, this.svg.clientWidth), ch = Math.max(1, this.svg.clientHeight);
    const s = this.view.w / (this.lastWidth || cw);
    const cx = this.view.x + this.view.w / 2, cy = this.view.y + this.view.h / 2;
    this.lastWidth = cw;
    this.view = { x: cx - (cw * s) / 2, y: cy - (ch * s) / 2, w: cw * s, h: ch * s };
    const v = this.view;
    this.svg.setAttribute("viewBox", [v.x, v.y, v.w, v.h].map((n) => n.toFixed(2)).join(" "));
    this.svg.style.setProperty("--upp", this.upp);
    this.placeMarkers();
    this.placeLabels();
  }

  placeMarkers() {
    if (!this.view) return;
    const s = this.upp;
    // Cases that would cover each other at this zoom sit on a small ring around the first, so that each
    // stays visible and clickable; zoomed in far enough they part and stand where they are.
    const clusters = [];
    for (const m of this.markers) {
      if (m.kind !== "incident") continue;
      const near = clusters.find((c) => Math.hypot(c.at[0] - m.at[0], c.at[1] - m.at[1]) / s < 14);
      if (near) near.members.push(m); else clusters.push({ at: m.at, members: [m] });
    }
    for (const { members } of clusters) {
      const r = members.length > 1 ? Math.max(9, members.length * 2.5) : 0;
      members.forEach((m, k) => {
        const angle = (2 * Math.PI * k) / members.length - Math.PI / 2;
        // Offsets are in screen pixels (after the scale), measured from the cluster's first case.
        m.offset = [r * Math.cos(angle) + (members[0].at[0] - m.at[0]) / s, r * Math.sin(angle) + (members[0].at[1] - m.at[1]) / s];
      });
    }
    for (const m of this.markers) {
      const [dx, dy] = m.offset || [0, 0];
      m.el.setAttribute("transform", `translate(${m.at[0]},${m.at[1]}) scale(${s}) translate(${dx},${dy})`);
    }
  }

  placeLabels() {
    const s = this.upp, v = this.view;
    const inView = (at) => at[0] > v.x && at[0] < v.x + v.w && at[1] > v.y && at[1] < v.y + v.h;
    const fits = (label) => {
      label.el.setAttribute("font-size", LABEL_PX * s);
      label.el.classList.remove("off");
      const b = label.el.getBBox();
      label.bbox = b;
      return b.width <= label.box.w * 0.95 && b.height <= label.box.h * 0.9;
    };
    const chosen = [];
    for (const c of this.communities) {
      const gridsFit = c.grids.map(fits).every(Boolean); // measure them all: each needs its bbox
      fits(c.label);
      if (gridsFit && c.grids.length > 1) chosen.push(...c.grids);
      else chosen.push(c.label);
    }
    const placed = [];
    for (const label of this.labels) label.el.classList.add("off");
    for (const label of chosen) {
      if (!inView(label.at) || placed.some((b) => overlaps(b, label.bbox, 2 * s))) continue;
      label.el.classList.remove("off");
      placed.push(label.bbox);
    }
  }

  zoomAt(factor, clientX, clientY) {
    const r = this.svg.getBoundingClientRect();
    const fx = (clientX - r.left) / r.width, fy = (clientY - r.top) / r.height;
    const v = this.view, w = v.w * factor, h = v.h * factor;
    // The cap keeps a village and a street corner both reachable, never a blank page or a single pixel.
    if (w < 40 || w > this.full.w * 8) return;
    this.view = { x: v.x + fx * (v.w - w), y: v.y + fy * (v.h - h), w, h };
    this.apply();
  }

  bindGestures() {
    const svg = this.svg;
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.zoomAt(e.deltaY > 0 ? 1.25 : 0.8, e.clientX, e.clientY);
    }, { passive: false });
    let drag = null;
    svg.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, view: { ...this.view }, moved: false };
    });
    svg.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 3) return;
      if (!drag.moved) svg.setPointerCapture(e.pointerId);
      drag.moved = true;
      svg.classList.add("dragging");
      this.view = { ...drag.view, x: drag.view.x - dx * this.upp, y: drag.view.y - dy * this.upp };
      this.apply();
    });
    const end = () => { drag = null; svg.classList.remove("dragging"); };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
  }
}
