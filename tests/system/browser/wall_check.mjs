// Open the video wall in Debian's Chromium and report what a person would see, as one JSON line.
//   node wall_check.mjs URL SCREENSHOT_PATH INCIDENT_ID PASSWORD WORKER
// The operator signs in to the wall; the assigned worker signs in on a phone-sized page, accepts and
// resolves the incident; the wall must show the new state through its live feed.
import { chromium } from "playwright-core";

const [url, screenshot, incidentId, password, worker] = process.argv.slice(2);

async function signIn(page, user) {
  await page.goto(url + "login", { waitUntil: "domcontentloaded" });
  await page.fill("input[name=username]", user);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.click("button[type=submit]")]);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--allow-loopback-in-peer-connection",
         "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required"],
});
// Content-Security-Policy violations on either page (issue 15: the pages run under a CSP without inline
// script); the listener is injected by the browser, so the policy does not apply to it.
const csp = [];
async function watched(context) {
  await context.exposeFunction("__cspViolation", (v) => csp.push(v));
  await context.addInitScript(() => document.addEventListener("securitypolicyviolation",
    (e) => window.__cspViolation(`${location.pathname}: ${e.effectiveDirective} ${e.blockedURI || "inline"}`)));
  return context;
}
try {
  const page = await (await watched(await browser.newContext({ viewport: { width: 1600, height: 900 } }))).newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) csp.push(`console: ${m.text()}`); });
  await signIn(page, "command");
  const tile = page.locator(`#incidents li[data-id="${incidentId}"]`);
  await tile.waitFor({ timeout: 20000 });
  await page.locator("#map path").first().waitFor({ timeout: 10000 });
  // Mean brightness and a coarse signature of the live picture, twice, 1.5 s apart.
  const sample = () => page.evaluate(() => {
    const video = document.querySelector(".tile video");
    const img = video && video.videoWidth ? video : document.querySelector(".tile img");
    if (!img || !(img.videoWidth || img.naturalWidth)) return null;
    const c = document.createElement("canvas");
    c.width = 64; c.height = 48;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0, 64, 48);
    const d = ctx.getImageData(0, 0, 64, 48).data;
    let sum = 0; const sig = [];
    for (let i = 0; i < d.length; i += 4) { const v = (d[i] + d[i + 1] + d[i + 2]) / 3; sum += v; sig.push(v); }
    return { width: img.videoWidth || img.naturalWidth, mean: sum / (d.length / 4), sig };
  });
  await page.waitForFunction(() => document.querySelector(".tile")?.dataset.media, null, { timeout: 20000 });
  const media = await page.locator(".tile").first().getAttribute("data-media");
  if (media === "webrtc") {
    await page.waitForFunction(() => Number(document.querySelector(".tile")?.dataset.boxes) > 0, null, { timeout: 10000 });
  }
  const boxes = Number(await page.locator(".tile").first().getAttribute("data-boxes") || 0);
  const a = await sample();
  await page.waitForTimeout(1500);
  const b = await sample();
  const changed = a && b ? a.sig.reduce((n, v, i) => n + (Math.abs(v - b.sig[i]) > 8 ? 1 : 0), 0) : 0;
  const items = await page.locator("#incidents li").allInnerTexts();
  const hotGrids = await page.locator("#map path.hot").evaluateAll((ps) => ps.map((p) => p.dataset.code));
  await page.screenshot({ path: screenshot });

  // The worker's phone.
  const phone = await (await watched(await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true }))).newPage();
  phone.on("pageerror", (e) => errors.push(String(e)));
  phone.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) csp.push(`console: ${m.text()}`); });
  await signIn(phone, worker);
  const card = phone.locator(`#mine li[data-id="${incidentId}"]`);
  await card.waitFor({ timeout: 10000 });
  const steps = [];
  for (const [action, state] of [["accept", "accepted"], ["start", "in_progress"], ["resolve", "resolved"]]) {
    if (action === "resolve") {
      await card.locator("textarea").fill("已劝离，现场恢复通行");
      // A feed event redraws the list while the worker is typing: the note must survive it.
      await phone.evaluate(() => load());
    }
    await card.locator(`button[data-action=${action}]`).click();
    if (state !== "resolved") await phone.locator(`#mine li[data-id="${incidentId}"][data-state="${state}"]`).waitFor({ timeout: 10000 });
    steps.push(state);
  }
  await phone.screenshot({ path: screenshot.replace(/\.png$/, "-worker.png") });
  const t0 = Date.now();
  await page.locator(`#incidents li[data-id="${incidentId}"] .state`, { hasText: "resolved" }).waitFor({ timeout: 5000 });
  const wallUpdateMs = Date.now() - t0;

  console.log(JSON.stringify({
    media, boxes, frame_width: a?.width ?? 0, mean_brightness: a?.mean ?? 0, changed_pixels: changed,
    incidents: items, hot_grids: hotGrids, feed: await page.locator("#feed-state").getAttribute("class"), errors,
    links: await page.locator("#links .link").evaluateAll((chips) => chips.map((c) => `${c.className}|${c.textContent}`)),
    worker_steps: steps, wall_update_ms: wallUpdateMs, csp,
  }));
} finally {
  await browser.close();
}
