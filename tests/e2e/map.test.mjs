// End-to-end test of the map page in Debian's headless Chromium, driven by
// playwright-core. Run by tests/integration/map_page.rs against the real binary:
//
//   node tests/e2e/map.test.mjs http://127.0.0.1:PORT [screenshot.png]
//
// The service must hold the sample networks and a demand grid around 九江 (the test
// uploads the scoring fixture). Prints one JSON line of findings; exit status 1 with the
// failed checks listed when anything is wrong.
import { chromium } from "playwright-core";

const base = process.argv[2];
const screenshot = process.argv[3];
const failures = [];
const findings = {};
const check = (ok, what) => { if (!ok) failures.push(what); };
// A watchdog: the test never hangs CI, whatever the page does.
const watchdog = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, failures: [...failures, "timed out after 180 s"], findings }));
  process.exit(1);
}, 180000);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--enable-unsafe-swiftshader"],
});

/** Opens the page in a fresh context with a browser language; records errors and requests. */
async function open(locale, path) {
  const context = await browser.newContext({ locale, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const log = { errors: [], requests: [] };
  page.on("console", (m) => { if (m.type() === "error") log.errors.push(m.text()); });
  page.on("pageerror", (e) => log.errors.push(String(e)));
  page.on("request", (r) => log.requests.push(r.url()));
  await page.goto(`${base}${path}`);
  await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 60000 });
  return { context, page, log };
}

/** Waits until the map has drawn everything it has (a fresh frame, then `idle`). */
async function settle(page) {
  await page.evaluate(() => new Promise((done) => {
    territory.map.once("idle", () => done());
    territory.map.triggerRepaint();
  }));
}

/** Moves the map and waits until every tile is drawn. */
async function jump(page, center, zoom) {
  await page.evaluate(([c, z]) => territory.map.jumpTo({ center: c, zoom: z }), [center, zoom]);
  await settle(page);
}

/** Clicks the map canvas at a longitude/latitude. */
async function clickAt(page, lngLat) {
  const box = await page.locator("#map canvas").boundingBox();
  const p = await page.evaluate((ll) => territory.map.project(ll), lngLat);
  await page.mouse.click(box.x + p.x, box.y + p.y);
}

const rendered = (page, layer) => page.evaluate((l) => territory.map.queryRenderedFeatures({ layers: [l] }).map((f) => f.properties), layer);

try {
  const { context, page, log } = await open("en-US", "/?network=smart#5/27/113");
  // The sample grants are drawn (features rendered by WebGL, not DOM).
  const grants = await rendered(page, "grants-fill");
  findings.grants_rendered = grants.length;
  check(grants.length > 0, "no grant rendered");
  check(grants.some((g) => g.partner_id === 1), "the 深圳 grant (partner 1) is not rendered");
  const outlets = await rendered(page, "outlets-circle");
  findings.outlets_rendered = outlets.length;
  check(outlets.length > 0, "no outlet rendered");

  // Pick 南山区 (440305) for the 武汉 partner: it lies in 深圳, partner 1's exclusive city.
  await page.selectOption("#partner", "2");
  await page.click("button[data-mode=pick]");
  await jump(page, [113.93, 22.53], 10);
  await clickAt(page, [113.93, 22.53]);
  await page.waitForSelector("#picked span[data-adcode='440305']", { timeout: 10000 });
  await page.click("#run-check");
  await page.waitForSelector("[data-testid=check-refused]", { timeout: 20000 });
  const rows = await page.$$eval("table[data-testid=conflicts] tr", (trs) => trs.slice(1).map((tr) => [...tr.cells].map((c) => c.textContent)));
  findings.conflict_rows = rows;
  check(rows.some((r) => r[0] === "1" && parseFloat(r[2].replace(/,/g, "")) > 100), "the conflict with grant 1 and its overlap km² is not listed");
  await settle(page);
  const drawn = await rendered(page, "check-fill");
  findings.conflict_features_drawn = drawn.length;
  check(drawn.length > 0, "the conflict is not drawn on the map");
  if (screenshot) await page.screenshot({ path: screenshot });

  // Draw a triangle where no smart grant lies (湖南): the check finds nothing.
  await page.click("button[data-mode=draw]");
  await jump(page, [112.0, 27.0], 8);
  for (const v of [[111.8, 26.8], [112.2, 26.8], [112.0, 27.2]]) await clickAt(page, v);
  await page.click("#run-check");
  await page.waitForSelector("[data-testid=check-ok]", { timeout: 20000 });

  // Score a site in 九江 for partner 4: mall and auto-city side by side.
  await page.click("button[data-mode=score]");
  await page.selectOption("#partner", "4");
  await jump(page, [116.0, 29.7], 10);
  await clickAt(page, [116.0, 29.7]);
  await page.waitForSelector("table[data-testid=score]", { timeout: 20000 });
  const siteTypes = await page.$$eval("table[data-testid=score] th[data-site-type]", (ths) => ths.map((th) => th.dataset.siteType));
  findings.site_types = siteTypes;
  check(siteTypes.includes("mall") && siteTypes.includes("auto_city"), "both site types are not shown");
  const sales = await page.$$eval("table[data-testid=score] tr", (trs) => [...trs[1].cells].slice(1).map((c) => parseFloat(c.textContent.replace(/,/g, ""))));
  findings.expected_sales = sales;
  check(sales.length === 2 && sales.every((v) => v > 0), "expected sales are not shown for both site types");

  // The compliance report of the partner.
  await page.click("#compliance");
  await page.waitForSelector("[data-testid=compliance]", { timeout: 20000 });

  // The popup of a feature.
  await page.click("button[data-mode=inspect]");
  await jump(page, [114.05, 22.6], 8);
  await clickAt(page, [114.05, 22.6]);
  await page.waitForSelector(".maplibregl-popup", { timeout: 10000 });

  findings.errors = log.errors;
  check(log.errors.length === 0, `console errors: ${log.errors.join(" | ")}`);
  const foreign = log.requests.filter((u) => !u.startsWith(base) && !u.startsWith("data:") && !u.startsWith("blob:"));
  findings.foreign_requests = foreign;
  check(foreign.length === 0, `requests to other hosts: ${foreign.join(", ")}`);
  findings.requests = log.requests.length;
  await context.close();

  // The interface follows the browser's language.
  const zh = await open("zh-CN", "/?network=haima");
  const pickLabel = await zh.page.textContent("button[data-mode=pick]");
  const lang = await zh.page.evaluate(() => document.documentElement.lang);
  findings.zh = { pickLabel, lang };
  check(pickLabel === "选择区县" && lang === "zh-CN", "the Chinese interface is not shown for zh-CN");
  check(zh.log.errors.length === 0, `console errors (zh): ${zh.log.errors.join(" | ")}`);
  await zh.context.close();
} catch (e) {
  failures.push(`exception: ${e.stack || e}`);
} finally {
  await browser.close();
}

clearTimeout(watchdog);
console.log(JSON.stringify({ ok: failures.length === 0, failures, findings }));
process.exit(failures.length === 0 ? 0 : 1);
