// Open the wall at the county centre in Debian's Chromium and report its township link strip and incident
// list, as one JSON line, once a township shows as down.
//   node links_check.mjs URL PASSWORD
import { chromium } from "playwright-core";

const [url, password] = process.argv.slice(2);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"],
});
try {
  const page = await (await browser.newContext({ viewport: { width: 1600, height: 900 } })).newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url + "login", { waitUntil: "domcontentloaded" });
  await page.fill("input[name=username]", "command");
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.click("button[type=submit]")]);
  await page.locator("#links .link.down").waitFor({ timeout: 20000 });
  await page.locator("#incidents li").first().waitFor({ timeout: 10000 });
  console.log(JSON.stringify({
    links: await page.locator("#links .link").evaluateAll((chips) => chips.map((c) => `${c.className}|${c.textContent}`)),
    incidents: await page.locator("#incidents li").allTextContents(),
    errors,
  }));
} finally {
  await browser.close();
}
