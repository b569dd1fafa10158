// What the browser tests (tests/browser/*_ui.mjs, run by tests/e2e/test_web_*.py against a real
// daemon) share: Debian's chromium under playwright-core from web/node_modules (never a
// downloaded browser), one page with its errors collected, named steps printed as they pass,
// screenshots, and the run's outcome ("all steps passed", or the failed step, a failure
// screenshot and exit code 1). Environment: SCREENSHOT_DIR, CHROMIUM (default /usr/bin/chromium).
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const require = createRequire(new URL("../../web/package.json", import.meta.url));
const { chromium } = require("playwright-core");

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Runs `steps(t)` in a fresh browser profile. t: { page, context, step(name), done(text), shot(name),
// pageErrors, consoleErrors, dialogs }. `options.timezoneId` sets the viewer's time zone;
// `options.locale` the browser's language and formats; `options.acceptDialogs` accepts confirm() dialogs (else they are dismissed and recorded).
export async function runBrowser(options, steps) {
  const shots = process.env.SCREENSHOT_DIR;
  fs.mkdirSync(shots, { recursive: true });
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gatehouse-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // This machine's network is closed: no sandbox (root), no GPU, and none of Chromium's own
    // background connections (updates, sync, QUIC probes) that would be refused at every start.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
    viewport: { width: 1280, height: 900 },
    timezoneId: options.timezoneId ?? "UTC",
    ...(options.locale ? { locale: options.locale } : {}),
  });
  const t = { context, pageErrors: [], consoleErrors: [], dialogs: [], current: "start" };
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15000);
    page.on("dialog", async (dialog) => {
      t.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      if (options.acceptDialogs) await dialog.accept();
      else await dialog.dismiss();
    });
    page.on("pageerror", (error) => t.pageErrors.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error") t.consoleErrors.push(message.text());
    });
    t.page = page;
    t.step = (name) => {
      t.current = name;
    };
    t.done = (text) => console.log(`ok - ${t.current}${text ? ": " + text : ""}`);
    t.shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
    await steps(t);
    check(t.pageErrors.length === 0, `errors in the page: ${t.pageErrors.join("; ")}`);
    console.log("all steps passed");
  } catch (error) {
    console.error(`FAILED at "${t.current}": ${error.message}`);
    try {
      if (t.page) await t.page.screenshot({ path: path.join(shots, `failure-${options.name ?? "browser"}.png`), fullPage: true });
    } catch {}
    process.exitCode = 1;
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}
