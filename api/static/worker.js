"use strict";
// A grid worker's phone: the incidents assigned to them, and the steps the server says they may take.
// Every step has a label: the buttons are exactly the incident's `actions`, whoever is signed in.
const LABELS = {
  accept: "接单 Accept", depart: "出发 On the way", start: "到场处置 Start", resolve: "办结 Resolve",
  return: "退回 Return", file: "立案 File", dispatch: "派遣 Dispatch", reassign: "改派 Reassign",
  escalate: "升级 Escalate", verify: "核查 Verify", close: "结案 Close", evaluate: "评价 Evaluate",
  reject: "不予立案 Reject", reopen: "返工 Reopen",
};
let timeZone;
let reasons = {};
// What the worker typed or picked per incident: the list is redrawn on every feed event, and a note
// half-written must survive that.
const drafts = new Map();
const draftOf = (id) => drafts.get(id) || drafts.set(id, { note: "", file: null }).get(id);
const fmt = (iso) => new Date(iso).toLocaleString("zh-CN", { hour12: false, timeZone });

async function api(url, options) {
  const res = await fetch(url, options);
  if (res.status === 401) { location.href = "/login?next=/worker"; throw new Error("signed out"); }
  if (!res.ok) throw new Error((await res.json()).detail || res.status);
  return res.json();
}

async function act(inc, action, reason) {
  const draft = draftOf(inc.id);
  const { note, file } = draft;
  const attachments = [];
  if (file) {
    const up = await api(`/api/incidents/${inc.id}/attachments`, {
      method: "POST", headers: { "Content-Type": file.type }, body: file,
    });
    attachments.push(up.id);
  }
  await api(`/api/incidents/${inc.id}/transitions`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ action, note, attachments, expected_state: inc.state, reason }),
  });
  // Clear only what was sent: the feed may already have shown the next step, and what the worker typed
  // for it since must not go with this one.
  if (draft.note === note) draft.note = "";
  if (draft.file === file) draft.file = null;
  await load();
}

function render(items) {
  const list = document.getElementById("mine");
  list.innerHTML = "";
  if (!items.length) { list.innerHTML = '<li class="empty">暂无待办 Nothing assigned to you</li>'; return; }
  for (const inc of items) {
    const li = document.createElement("li");
    li.dataset.id = inc.id;
    li.dataset.state = inc.state;
    li.innerHTML = `<div class="row"><b class="title"></b><span class="state">${inc.state}</span></div>
      <div class="meta place"></div><div class="meta catalogue"></div><div class="meta">${fmt(inc.opened_at)} · 时限 ${inc.accept_by ? fmt(inc.accept_by) : "—"}</div>
      <img alt="snapshot" hidden>
      <video controls muted playsinline preload="none" hidden></video>
      <textarea placeholder="处置说明 Note"></textarea>
      <label class="meta">照片 Photo <input type="file" accept="image/jpeg,image/png" capture="environment"></label>
      <div class="actions"></div>`;
    li.querySelector(".title").textContent = inc.title;
    li.querySelector(".catalogue").textContent = inc.catalogue ? `分类 ${inc.catalogue.path}` : "";
    const draft = draftOf(inc.id);
    const text = li.querySelector("textarea");
    text.value = draft.note;
    text.addEventListener("input", () => { draft.note = text.value; });
    const picker = li.querySelector("input[type=file]");
    picker.addEventListener("change", () => { draft.file = picker.files[0] || null; });
    li.querySelector(".place").textContent = inc.place.chain.map((u) => u.name).slice(1).join(" › ")
      + ` (${inc.place.lat.toFixed(5)}, ${inc.place.lon.toFixed(5)})`;
    for (const action of inc.actions || []) {
      const b = document.createElement("button");
      b.textContent = LABELS[action] || action; b.dataset.action = action;
      let why = null;
      if (reasons[action]) {
        // A return says why: the leader who gets it back sees the reason in the log.
        why = document.createElement("select");
        why.className = "reason";
        for (const [code, text] of Object.entries(reasons[action])) why.add(new Option(text, code));
        li.querySelector(".actions").appendChild(why);
      }
      b.onclick = () => act(inc, action, why ? why.value : undefined).catch((e) => alert(e.message));
      li.querySelector(".actions").appendChild(b);
    }
    api(`/api/incidents/${inc.id}`).then((d) => {
      const shot = d.events[0]?.evidence.find((e) => e.role === "snapshot");
      if (shot) { const img = li.querySelector("img"); img.src = shot.url + "?reason=dispatch"; img.hidden = false; }
      // The clip (a few seconds around the event at the analysis rate) arrives a little after the snapshot.
      const clip = d.events[0]?.evidence.find((e) => e.role === "clip");
      if (clip) { const video = li.querySelector("video"); video.src = clip.url + "?reason=dispatch"; video.hidden = false; }
    }).catch(() => {});
    list.appendChild(li);
  }
}

async function load() {
  const page = await api("/api/incidents?mine=true&open_only=true&limit=50");
  render(page.items);
}

async function main() {
  const me = await api("/api/auth/me");
  timeZone = (await api("/api/site")).timezone;
  reasons = (await api("/api/casework")).reasons;
  document.getElementById("user").textContent = `${me.name} · ${me.worker_id || me.role}`;
  await load();
  const es = new EventSource("/api/stream");
  // Every topic an incident changes under, escalations (a case handed to or taken from this worker) included.
  for (const t of ["incident.opened", "incident.updated", "incident.escalated", "incident.verified",
    "incident.reopened"]) es.addEventListener(t, () => load());
}

main().catch((e) => console.error(e));
