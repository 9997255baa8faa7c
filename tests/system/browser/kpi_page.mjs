// Open the KPI page in Debian's Chromium as the county command and report what it shows, as one JSON line.
//   node kpi_page.mjs URL PASSWORD FROM TO SCREENSHOT_PATH
import { chromium } from "playwright-core";

const [url, password, from, to, screenshot] = process.argv.slice(2);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"],
});
const table = (page) => page.evaluate(() => {
  const rows = {};
  for (const tr of document.querySelectorAll("#kpis tbody tr, #kpis tfoot tr")) {
    const cells = {};
    for (const td of tr.querySelectorAll("td")) cells[td.dataset.col] = td.textContent;
    rows[tr.dataset.key || "total"] = cells;
  }
  return rows;
});
try {
  const page = await (await browser.newContext({ viewport: { width: 1600, height: 900 } })).newPage();
  const errors = [];
  const external = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => { if (!r.url().startsWith(url)) external.push(r.url()); });
  await page.goto(`${url}login?next=${encodeURIComponent(`/kpis?by=grid&from=${from}&to=${to}`)}`);
  await page.fill("input[name=username]", "command");
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL((u) => u.pathname === "/kpis"), page.click("button[type=submit]")]);
  await page.locator("#kpis[data-state=ready]").waitFor({ timeout: 15000 });
  const grid = await table(page);
  const headers = await page.locator("#kpis thead th").allInnerTexts();
  const xlsx = await page.locator("#xlsx").getAttribute("href");
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.click("#groupings button[data-by=worker]");
  await page.waitForFunction(() => document.querySelector("#kpis tbody tr")?.dataset.key === "w001");
  const worker = await table(page);
  await page.fill("input[name=from]", "2026-12-31");
  await page.fill("input[name=to]", from);
  await page.click("#range button[type=submit]");
  await page.locator("#kpis[data-state=error]").waitFor({ timeout: 10000 });
  const error = await page.locator("#error").innerText();
  console.log(JSON.stringify({ errors, external, grid, headers, xlsx, worker, error }));
} finally {
  await browser.close();
}
