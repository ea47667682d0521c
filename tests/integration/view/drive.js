// Drives Debian's chromium (headless) through the agent's live view with
// playwright-core: waits for the service map to show the expected services,
// opens the first trace whose root is expect[0]'s request, and checks its
// waterfall. Prints a JSON report; exits non-zero on failure.
// usage: node drive.js URL SCREENSHOT.png SERVICE...
const { chromium } = require('playwright-core');

(async () => {
  const [url, shot, ...expect] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const report = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('requestfailed', (r) => errors.push('request failed: ' + r.url()));
    await page.goto(url);
    for (const s of expect) await page.waitForSelector(`.node[data-id="${s}"]`, { timeout: 15000 });
    report.nodes = await page.$$eval('.node', (ns) => ns.map((n) => n.dataset.id));
    report.edges = await page.$$eval('.edge', (es) => es.map((e) => [e.dataset.client, e.dataset.server]));
    report.edge_labels = await page.$$eval('.edge text', (ts) => ts.map((t) => t.textContent));
    await page.waitForSelector('tr.trace', { timeout: 15000 });
    // the trace of a request through the whole chain: the most spans
    const rows = await page.$$eval('tr.trace', (rs) => rs.map((r) => [r.dataset.trace, +r.children[2].textContent]));
    rows.sort((a, b) => b[1] - a[1]);
    report.opened = rows[0][0];
    await page.click(`tr.trace[data-trace="${rows[0][0]}"]`);
    await page.waitForSelector('#waterfall .row.span', { timeout: 5000 });
    report.waterfall = await page.$$eval('#waterfall .row.span', (rs) => rs.map((r) => r.textContent.trim()));
    report.waterfall_visible = await page.isVisible('#waterfall');
    await page.screenshot({ path: shot, fullPage: true });
    report.errors = errors;
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(report));
})().catch((e) => { console.error(e); process.exit(1); });
