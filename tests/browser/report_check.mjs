// Opens a served Allure 3 report in headless Chromium and says, as JSON on stdout,
// what a reader sees: the tree's section titles (epics, features, stories) after
// expanding the per-command epics, and for one failing result its category line and
// the names of its attachments. Saves two screenshots. test_html_report.py judges.
//
// usage: node report_check.mjs NPM_DIR URL FAILING_TEST SCREENSHOT_DIR USER_DATA_DIR [PREFIX]
// (PREFIX: put before the screenshots' names; FAILING_TEST "-": the tree alone)
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [npmDir, url, failing, shots, userDataDir, prefix = ""] = process.argv.slice(2);
const { chromium } = await import(
  pathToFileURL(join(npmDir, "node_modules", "playwright-core", "index.mjs")).href
);
const WAIT_MS = 30000;

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 1000 },
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
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(url);
  // A single-page app: the tree exists once its data has loaded.
  const titles = page.locator("[data-testid=tree-section-title]");
  await titles.first().waitFor();
  const before = await titles.count();
  for (const epic of ["commands", "behaviour"]) {
    const section = titles.filter({ hasText: new RegExp(`^${epic}$`) });
    if ((await section.count()) > 0) await section.first().click();
  }
  // Expanded: the epics' features are in the tree.
  await page.waitForFunction(
    (n) => document.querySelectorAll("[data-testid=tree-section-title]").length > n,
    before,
    { timeout: WAIT_MS },
  );
  const sections = await titles.allInnerTexts();
  await page.screenshot({ path: join(shots, `${prefix}report-tree.png`), fullPage: true });

  if (failing === "-") {
    // The tree only (a large report, whose groups below the epics are collapsed).
    console.log(JSON.stringify({ sections, category: "", attachments: [] }));
    process.exit(0);
  }
  await page.locator("[data-testid=tree-leaf]", { hasText: failing }).first().click();
  await page.locator("[data-testid=test-result-info-title]").waitFor();
  const headers = page.locator("[data-testid=test-result-attachment-header]");
  await headers.first().waitFor();
  const attachments = await headers.allInnerTexts();
  const info = await page.locator("body").innerText();
  const category = info.split("\n").find((line) => line.startsWith("Category:")) ?? "";
  await page.screenshot({ path: join(shots, `${prefix}failing-result.png`), fullPage: true });
  console.log(JSON.stringify({ sections, category, attachments }));
} finally {
  await context.close();
}
