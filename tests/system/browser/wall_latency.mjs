// Sign in to the wall, say READY once the live video plays, then report when a new incident's tile
// appears (machine clock, ms) as one JSON line.
//   node wall_latency.mjs URL PASSWORD
import { chromium } from "playwright-core";
import readline from "node:readline";

const [url, password] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--allow-loopback-in-peer-connection",
         "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  await page.goto(url + "login");
  await page.fill("input[name=username]", "command");
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.click("button[type=submit]")]);
  await page.waitForFunction(() => document.querySelector(".tile")?.dataset.media, null, { timeout: 20000 });
  await page.waitForFunction(() => document.querySelector("#feed-state")?.className === "on", null, { timeout: 10000 });
  const media = await page.locator(".tile").first().getAttribute("data-media");
  console.log("READY " + media);
  const tile = page.locator("#incidents li").first();
  await tile.waitFor({ timeout: 30000 });
  console.log(JSON.stringify({ seen_at: Date.now(), id: await tile.getAttribute("data-id") }));
} finally {
  await browser.close();
}
