// Walk every page in Debian's Chromium under the service's Content-Security-Policy and report each
// violation the browser raises, as one JSON line.
//   node csp_check.mjs URL PASSWORD INCIDENT_ID
// Last, a control: an inline script and an on* handler injected into the page must be blocked and
// reported, which shows the policy is enforced and the listener hears it.
import { chromium } from "playwright-core";

const [url, password, incidentId] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"],
});
const violations = [];
const errors = [];
const visited = [];

async function newPage(viewport) {
  const context = await browser.newContext({ viewport });
  // Injected by the browser itself, so the policy does not apply to this listener.
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__csp.push(`${e.effectiveDirective} ${e.blockedURI || "inline"} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) violations.push(`console: ${m.text()}`);
  });
  return page;
}

async function collect(page) {
  visited.push(new URL(page.url()).pathname);
  for (const v of await page.evaluate(() => window.__csp)) violations.push(`${visited.at(-1)}: ${v}`);
}

async function signIn(page, user, next) {
  await page.goto(`${url}login?next=${encodeURIComponent(next)}`);
  await collect(page);
  await page.fill("input[name=username]", user);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL((u) => u.pathname === next.split("?")[0]), page.click("button[type=submit]")]);
}

let control = null;
try {
  const wall = await newPage({ width: 1600, height: 900 });
  await signIn(wall, "command", "/");
  await wall.locator(`#incidents li[data-id="${incidentId}"]`).waitFor({ timeout: 20000 });
  await wall.locator("#map path").first().waitFor({ timeout: 10000 });
  await wall.locator(`#incidents li[data-id="${incidentId}"]`).click();
  await wall.waitForTimeout(500);
  await collect(wall);
  await wall.goto(`${url}kpis`);
  await wall.locator("#kpis[data-state=ready]").waitFor({ timeout: 15000 });
  await collect(wall);

  const phone = await newPage({ width: 390, height: 844 });
  await signIn(phone, "w001", "/worker");
  await phone.locator(`#mine li[data-id="${incidentId}"]`).waitFor({ timeout: 10000 });
  await phone.locator(`#mine li[data-id="${incidentId}"] button[data-action=accept]`).click();
  await phone.locator(`#mine li[data-id="${incidentId}"][data-state=accepted]`).waitFor({ timeout: 10000 });
  await collect(phone);

  const before = violations.length;
  control = await phone.evaluate(async () => {
    window.__csp = [];
    const s = document.createElement("script");
    s.textContent = "window.__inlineRan = true";
    document.body.appendChild(s);
    const b = document.createElement("button");
    b.setAttribute("onclick", "window.__handlerRan = true");
    document.body.appendChild(b);
    b.click();
    await new Promise((r) => setTimeout(r, 300));
    return { inline_ran: Boolean(window.__inlineRan), handler_ran: Boolean(window.__handlerRan),
             reported: window.__csp.length };
  });
  violations.length = before;  // the control's own reports are not the pages' violations
} finally {
  await browser.close();
}
console.log(JSON.stringify({ visited, violations, errors, control }));
