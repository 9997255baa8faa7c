// The wall as a command centre uses it, measured in Debian's Chromium at 1600×900, in one browser launch;
// prints one JSON line for the python test (test_wall_layout.py) to judge.
//   node wall_layout.mjs URL PASSWORD COMMANDER WORKER REJECT_ID SCREENSHOT
// Tiles and layouts, the map (size, labels, zoom, pan, cameras, incidents), the incident tiles' zone and
// snapshot, the buttons each page offers per incident (worker page and wall, worker and commander), and a
// reject that asks for its reason while a pinned tile keeps its place.
import { chromium } from "playwright-core";

const [url, password, commander, worker, rejectId, screenshot] = process.argv.slice(2);
const out = { errors: [] };
const pages = [];
// The pages catch their own start-up errors and print them on the page: those count too.
async function shownErrors() {
  for (const [user, page] of pages.splice(0)) {
    if (page.isClosed()) continue;
    const shown = await page.locator("body > p.error").allInnerTexts().catch(() => []);
    out.errors.push(...shown.map((text) => `${user}: ${text}`));
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--allow-loopback-in-peer-connection",
         "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required"],
});

async function signedIn(user, viewport, path) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on("pageerror", (e) => out.errors.push(`${user}: ${e}`));
  await page.goto(url + "login", { waitUntil: "domcontentloaded" });
  await page.fill("input[name=username]", user);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.click("button[type=submit]")]);
  if (new URL(page.url()).pathname !== path) await page.goto(url + path.slice(1));
  pages.push([user, page]);
  return page;
}

// Buttons per incident id, read off the list items (or cards) and off the incident tiles.
const buttons = (page, itemSelector) => page.locator(itemSelector).evaluateAll((items) =>
  Object.fromEntries(items.map((el) => [el.dataset.id || el.dataset.incident,
    [...el.querySelectorAll(".actions button")].map((b) => b.dataset.action)])));

const tilesOf = (page) => page.evaluate(() => {
  const wall = document.querySelector("#wall").getBoundingClientRect();
  const tiles = [...document.querySelectorAll("#wall .tile")].map((t) => {
    const r = t.getBoundingClientRect();
    return { key: t.dataset.key, x: r.x, y: r.y, w: r.width, h: r.height };
  });
  return { wall: { x: wall.x, y: wall.y, w: wall.width, h: wall.height }, tiles };
});

const mapState = (page) => page.evaluate(() => {
  const svg = document.querySelector("#map");
  const r = svg.getBoundingClientRect();
  const labels = [...svg.querySelectorAll("text.label")].map((t) => {
    const b = t.getBoundingClientRect();
    return { text: t.textContent, kind: t.classList.contains("grid") ? "grid" : "community", codes: t.dataset.codes.split(" "),
             x: b.x, y: b.y, w: b.width, h: b.height, visible: getComputedStyle(t).display !== "none" && b.width > 0 };
  }).filter((l) => l.visible);
  return {
    rect: { x: r.x, y: r.y, w: r.width, h: r.height },
    viewBox: svg.getAttribute("viewBox").split(" ").map(Number),
    labels, font_px: labels.length ? Math.min(...labels.map((l) => l.h)) : 0,
    cameras: [...svg.querySelectorAll(".camera")].map((g) => g.dataset.camera),
    incidents: [...svg.querySelectorAll(".incident")].map((g) => g.dataset.id),
    incident_centres: [...svg.querySelectorAll(".incident circle")].map((c) => {
      const b = c.getBoundingClientRect();
      return [b.x + b.width / 2, b.y + b.height / 2];
    }),
  };
});

try {
  // ---- the worker: the phone page, then the wall, each with the buttons the API lists ----
  const phone = await signedIn(worker, { width: 390, height: 844 }, "/worker");
  await phone.locator("#mine li[data-id]").first().waitFor({ timeout: 15000 });
  out.worker_page = await buttons(phone, "#mine li[data-id]");
  out.worker_reason_options = await phone.locator("#mine li[data-id] select.reason").first()
    .evaluate((s) => [...s.options].map((o) => o.value)).catch(() => []);
  await shownErrors();
  await phone.context().close();
  const workerWall = await signedIn(worker, { width: 1600, height: 900 }, "/");
  await workerWall.locator("#incidents li").first().waitFor({ timeout: 15000 });
  out.worker_wall = await buttons(workerWall, "#incidents li");
  await shownErrors();
  await workerWall.context().close();

  // ---- the county's map: the town's small grids beside the villages' large ones ----
  const county = await signedIn("command", { width: 1600, height: 900 }, "/");
  await county.locator("#map text.label").first().waitFor({ state: "attached", timeout: 10000 });
  out.county_map = await mapState(county);
  await shownErrors();
  await county.context().close();

  // ---- the commander's wall ----
  const page = await signedIn(commander, { width: 1600, height: 900 }, "/");
  await page.locator("#incidents li").first().waitFor({ timeout: 15000 });
  await page.locator("#map text.label").first().waitFor({ state: "attached", timeout: 10000 });
  await page.waitForFunction(() => document.querySelector(".tile.incident")?.dataset.media, null, { timeout: 20000 });
  await page.waitForFunction(() => [...document.querySelectorAll(".tile.incident img.evidence")].every((i) => i.naturalWidth > 0),
    null, { timeout: 10000 });
  await page.waitForFunction(() => [...document.querySelectorAll(".tile.incident video")].every((v) => v.videoWidth > 0),
    null, { timeout: 10000 }).catch(() => {});
  out.commander_wall = await buttons(page, "#incidents li");
  out.commander_tiles = await buttons(page, ".tile.incident");
  out.kpi_link = await page.locator("#kpi-link").evaluate((a) => ({ href: a.getAttribute("href"), visible: a.getBoundingClientRect().width > 0 }));
  out.default_layout = await tilesOf(page);
  out.incident_tiles = await page.locator(".tile.incident").evaluateAll((tiles) => tiles.map((t) => ({
    id: t.dataset.incident, media: t.dataset.media || null,
    video_width: t.querySelector("video").videoWidth,
    zones: [...t.querySelectorAll("polygon.incident-zone")].map((p) => p.dataset.zone),
    evidence_width: t.querySelector("img.evidence").naturalWidth,
    evidence_src: t.querySelector("img.evidence").getAttribute("src"),
  })));
  await page.screenshot({ path: screenshot });

  out.layouts = {};
  for (const n of [1, 3, 4, 2]) {
    await page.click(`#layout button[data-layout="${n}"]`);
    out.layouts[n] = await tilesOf(page);
  }
  await page.click('#layout button[data-layout="3"]');
  await page.reload();
  await page.locator("#wall .tile").first().waitFor({ timeout: 10000 });
  out.after_reload = { tiles: await page.locator("#wall .tile").count(),
    pressed: await page.locator('#layout button[aria-pressed="true"]').getAttribute("data-layout") };
  await page.click('#layout button[data-layout="2"]');
  await page.locator("#map text.label").first().waitFor({ state: "attached", timeout: 10000 });

  // ---- the map: fit, zoomed in on the town (the small grids), dragged ----
  out.map_fit = await mapState(page);
  const town = await page.locator('#map path[data-code="379901001001001"]').boundingBox();
  // The corner 东关 grids one to four share: zoomed there, all four stay in view.
  await page.mouse.move(town.x + town.width, town.y);
  for (let i = 0; i < 3; i++) { await page.mouse.wheel(0, -100); await page.waitForTimeout(50); }
  out.map_zoomed = await mapState(page);
  const r = out.map_zoomed.rect;
  await page.mouse.move(r.x + r.w / 2, r.y + r.h / 2);
  await page.mouse.down();
  await page.mouse.move(r.x + r.w / 2 + 60, r.y + r.h / 2 + 30, { steps: 5 });
  await page.mouse.up();
  out.map_dragged = await mapState(page);
  await page.click("#zoom-fit");
  out.map_refit = (await mapState(page)).viewBox;

  // ---- pin the third tile, then reject the first incident with a reason: the pinned tile stays put ----
  const before = (await tilesOf(page)).tiles.map((t) => t.key);
  await page.locator('#wall .tile[data-slot="2"] .pin').click();
  await page.locator(`#incidents li[data-id="${rejectId}"] button[data-action="reject"]`).click();
  await page.locator("#step").waitFor({ state: "visible", timeout: 5000 });
  out.reject_dialog = {
    reasons: await page.locator("#step select[name=reason] option").evaluateAll((os) => os.map((o) => o.value)),
    reason_visible: await page.locator("#ask-reason").isVisible(),
  };
  await page.selectOption("#step select[name=reason]", "duplicate");
  await page.fill("#step textarea[name=note]", "与已派遣事件重复");
  await page.click("#step-ok");
  await page.locator(`#incidents li[data-id="${rejectId}"] .state`, { hasText: "rejected" }).waitFor({ timeout: 5000 });
  await page.waitForFunction((id) => !document.querySelector(`#wall .tile[data-incident="${id}"]`), rejectId, { timeout: 5000 });
  out.pin = { before, after: (await tilesOf(page)).tiles.map((t) => t.key),
    stored: await page.evaluate(() => localStorage.getItem("gridwatch.wall.pins")),
    // The live feed may bring the rejection before the POST answers; the dialog closes on the answer.
    dialog_closed: await page.locator("#step").waitFor({ state: "hidden", timeout: 5000 }).then(() => true, () => false) };

  // Reassign asks for the worker who gets the case, and for nothing else.
  const dispatched = await page.locator("#incidents li").evaluateAll((lis) =>
    lis.find((li) => li.querySelector(".state").textContent === "dispatched")?.dataset.id);
  await page.locator(`#incidents li[data-id="${dispatched}"] button[data-action="reassign"]`).click();
  await page.locator("#step").waitFor({ state: "visible", timeout: 5000 });
  out.reassign_dialog = { id: dispatched, asks: await page.locator("#step label[id^=ask-]").evaluateAll((ls) => ls.filter((l) => !l.hidden).map((l) => l.id)) };
  await page.fill("#step input[name=assignee_id]", "w002");
  await page.click("#step-ok");
  await page.locator("#step").waitFor({ state: "hidden", timeout: 5000 });
  await page.locator(`#incidents li[data-id="${dispatched}"] .who`, { hasText: "李强" }).waitFor({ timeout: 5000 });
} catch (err) {
  out.failure = String(err.stack || err);
} finally {
  await shownErrors();
  console.log(JSON.stringify(out));
  await browser.close();
}
