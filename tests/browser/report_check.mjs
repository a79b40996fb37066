// Opens a served Allure 3 report in headless Chromium and says, as JSON on stdout,
// what a reader sees: on the first screen (Allure's summary page, before any click or
// scroll) each report's card (its name, its statistics, its link) and whether it lies
// inside the viewport; the findings report's tree (new or known, kind, command); the
// per-command report's section titles (epics, features, stories) after expanding the
// per-command epics; for each named result (opened from the findings report) its
// category line, error message, resolution tab, attachments, links, and the links of
// its description with the HTTP status each one of the report's own answers. Saves
// screenshots (first-screen.png first). test_html_report.py judges.
//
// usage: node report_check.mjs NPM_DIR URL RESULTS SCREENSHOT_DIR USER_DATA_DIR [PREFIX]
// (RESULTS: test names joined by ",", or "-": the first screen and the tree alone;
// PREFIX: put before the screenshots' names)
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [npmDir, url, named, shots, userDataDir, prefix = ""] = process.argv.slice(2);
const { chromium } = await import(
  pathToFileURL(join(npmDir, "node_modules", "playwright-core", "index.mjs")).href
);
const WAIT_MS = 30000;
const VIEWPORT = { width: 1280, height: 1000 };

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  viewport: VIEWPORT,
  // Without the background-networking flags Chromium waits on a network it can't reach.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

const FINDINGS = new URL("by-finding/", url).href;
const COMMANDS = new URL("by-command/", url).href;

async function resultSeen(page, name) {
  // From the findings report's home: the tree, then the result.
  await page.goto(FINDINGS);
  await page.locator("[data-testid=tree-section-title]").first().waitFor();
  await page.locator("[data-testid=tree-leaf]", { hasText: name }).first().click();
  await page.locator("[data-testid=test-result-info-title]").waitFor();
  const headers = page.locator("[data-testid=test-result-attachment-header]");
  await headers.first().waitFor();
  const attachments = await headers.allInnerTexts();
  const info = await page.locator("body").innerText();
  const category = info.split("\n").find((line) => line.startsWith("Category:")) ?? "";
  const error = await page.locator("[data-testid=test-result-error-message]").first().innerText();
  const resolutionTab = page.locator("[data-testid=test-result-tab-resolutionCategories]");
  const resolutions = (await resolutionTab.count()) > 0 ? await resolutionTab.innerText() : "";
  const links = await page
    .locator("[data-testid=test-result-meta-link]")
    .evaluateAll((els) =>
      els.map((e) => ({ text: e.innerText, href: e.querySelector("a")?.href ?? "" })),
    );
  // The description is a sandboxed iframe: its links resolve against the report's URL.
  const frame = page.frameLocator("[data-testid=test-result-description-frame]");
  await frame.locator("body").waitFor();
  const description = await frame.locator("body").innerText();
  const hrefs = await frame.locator("a").evaluateAll((as) => as.map((a) => a.href));
  const described = [];
  for (const href of hrefs) {
    // The report's own files only: the machine may have no network.
    const local = new URL(href).origin === new URL(url).origin;
    const status = local ? (await page.request.get(href)).status() : null;
    described.push({ href, status });
  }
  const safe = name.replace(/[^A-Za-z0-9_-]+/g, "_");
  await page.screenshot({ path: join(shots, `${prefix}result-${safe}.png`), fullPage: true });
  return { name, category, error, resolutions, attachments, links, description, described };
}

async function sectionTitles(page) {
  const titles = page.locator("[data-testid=tree-section-title]");
  await titles.first().waitFor();
  return titles;
}

try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(url);
  const cards = page.locator("[data-testid=summary-report-card]");
  await cards.first().waitFor();
  const firstScreen = [];
  for (let i = 0; i < (await cards.count()); i++) {
    const card = cards.nth(i);
    const box = await card.boundingBox();
    firstScreen.push({
      text: await card.innerText(),
      href: await card.getAttribute("href"),
      inView: box !== null && box.y >= 0 && box.y + box.height <= VIEWPORT.height,
    });
  }
  await page.screenshot({ path: join(shots, `${prefix}first-screen.png`) });

  // The findings report opens its groups with failures by itself.
  await page.goto(FINDINGS);
  const findingSections = await (await sectionTitles(page)).allInnerTexts();
  await page.screenshot({ path: join(shots, `${prefix}findings-tree.png`) });

  await page.goto(COMMANDS);
  const titles = await sectionTitles(page);
  // A click toggles a section: open the epics that are closed (the report opens some
  // groups with failures by itself).
  for (const epic of ["commands", "behaviour"]) {
    const title = page.locator("[data-testid=tree-section-title]", {
      hasText: new RegExp(`^${epic}$`),
    });
    const rows = page.locator("[data-testid=tree-section]", { has: title });
    for (let i = 0; i < (await rows.count()); i++) {
      const row = rows.nth(i);
      if ((await row.locator("svg[class*='--opened']").count()) > 0) continue;
      await row.locator("[data-testid=tree-arrow]").click();
      await row.locator("svg[class*='--opened']").waitFor();
    }
  }
  const sections = await titles.allInnerTexts();
  await page.screenshot({ path: join(shots, `${prefix}report-tree.png`), fullPage: true });

  const results = [];
  for (const name of named === "-" ? [] : named.split(",")) {
    results.push(await resultSeen(page, name));
  }
  console.log(JSON.stringify({ firstScreen, findingSections, sections, results }));
} finally {
  await context.close();
}
