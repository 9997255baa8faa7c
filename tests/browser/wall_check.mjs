// Open the video wall in Debian's Chromium and report what a person would see, as one JSON line.
//   node wall_check.mjs URL SCREENSHOT_PATH EXPECTED_INCIDENT_TITLE
import { chromium } from "playwright-core";

const [url, screenshot, title] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await page.locator("#incidents li", { hasText: title }).first().waitFor({ timeout: 20000 });
  await page.locator("#map path").first().waitFor({ timeout: 10000 });
  // Mean brightness and a coarse signature of the live picture, twice, 1.5 s apart.
  const sample = () => page.evaluate(() => {
    const img = document.querySelector(".tile img");
    if (!img || !img.naturalWidth) return null;
    const c = document.createElement("canvas");
    c.width = 64; c.height = 48;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0, 64, 48);
    const d = ctx.getImageData(0, 0, 64, 48).data;
    let sum = 0; const sig = [];
    for (let i = 0; i < d.length; i += 4) { const v = (d[i] + d[i + 1] + d[i + 2]) / 3; sum += v; sig.push(v); }
    return { width: img.naturalWidth, mean: sum / (d.length / 4), sig };
  });
  await page.waitForFunction(() => document.querySelector(".tile img")?.naturalWidth > 0, null, { timeout: 20000 });
  const a = await sample();
  await page.waitForTimeout(1500);
  const b = await sample();
  const changed = a && b ? a.sig.reduce((n, v, i) => n + (Math.abs(v - b.sig[i]) > 8 ? 1 : 0), 0) : 0;
  const items = await page.locator("#incidents li").allInnerTexts();
  const hotGrids = await page.locator("#map path.hot").evaluateAll((ps) => ps.map((p) => p.dataset.code));
  await page.screenshot({ path: screenshot });
  console.log(JSON.stringify({
    frame_width: a?.width ?? 0, mean_brightness: a?.mean ?? 0, changed_pixels: changed,
    incidents: items, hot_grids: hotGrids, feed: await page.locator("#feed-state").getAttribute("class"), errors,
  }));
} finally {
  await browser.close();
}
