// Drives Debian's chromium through gatehouse's dashboard (run by tests/e2e/test_web_dashboard.py
// against a real daemon on a new, empty store: the page is watched while mail arrives). Input in
// the environment:
//   GATEHOUSE_URL, GATEHOUSE_USER, GATEHOUSE_PASSWORD
//   MIX_COMMAND     a JSON argv that sends six messages through the gateway (accepted, tagged,
//                   rejected, one for an unreachable back-end) and prints {name: [code, id]} as JSON
//   SEND_COMMAND    a JSON argv that sends one more accepted message
//   SCREENSHOT_DIR  where the screenshots go (dashboard-*.png)
//   CHROMIUM        the browser (default /usr/bin/chromium)
// Prints one line per step; exits 1 with the reason at the first failure.
import { execFileSync } from "node:child_process";
import { check, runBrowser } from "./harness.mjs";

const run = (variable) => {
  const argv = JSON.parse(process.env[variable]);
  return execFileSync(argv[0], argv.slice(1), { encoding: "utf8" });
};
const base = process.env.GATEHOUSE_URL;

await runBrowser({ name: "dashboard", timezoneId: "Europe/Berlin", locale: "en-GB" }, async ({ page, step, done, shot: pageShot, consoleErrors }) => {
  const shot = (name) => pageShot(`dashboard-${name}`);
  const figure = async (id) => Number(((await page.locator(`#${id}`).textContent()) ?? "").replace(/[^0-9]/g, ""));

  step("log in: the dashboard is the first page");
  await page.goto(base + "/");
  await page.locator("form.login").waitFor();
  await page.getByLabel("User name").fill(process.env.GATEHOUSE_USER);
  await page.getByLabel("Password").fill(process.env.GATEHOUSE_PASSWORD);
  await page.getByLabel("Password").press("Enter");
  await page.locator("#stat-all").waitFor();
  check(new URL(page.url()).pathname === "/dashboard", `after login at ${page.url()}`);
  check((await page.locator("nav a[aria-current=page]").textContent()) === "Dashboard", "the navigation marks the dashboard");
  done();

  step("a new installation: the empty state says so");
  await page.locator("#dashboard-empty").waitFor();
  check(/no messages in the last 24 hours/i.test((await page.locator("#dashboard-empty").textContent()) ?? ""), "empty state text");
  check((await figure("stat-all")) === 0, "no messages counted");
  check(/nothing refused/i.test((await page.locator("#top-reasons").textContent()) ?? ""), "empty top reasons");
  await shot("00-empty");
  done();

  step("the messages sent now appear without a reload");
  const sent = JSON.parse(run("MIX_COMMAND"));
  check(sent.relay[0] === 554 && sent.accepted[0] === 250, `replies ${JSON.stringify(sent)}`);
  await page.waitForFunction(() => Number((document.querySelector("#stat-all")?.textContent ?? "").replace(/[^0-9]/g, "")) === 6, null, { timeout: 20000 });
  await page.locator("svg.bars").waitFor();
  const expected = (await (await page.request.get(`${base}/api/v1/stats`)).json()).totals;
  check(expected.all === 6 && expected.accept >= 2 && expected.tag === 1 && expected.reject === 2, `the API's totals ${JSON.stringify(expected)}`);
  done(JSON.stringify(expected));

  step("the totals are the messages just sent");
  for (const [id, key] of [["stat-all", "all"], ["stat-accept", "accept"], ["stat-tag", "tag"], ["stat-reject", "reject"], ["stat-tempfail", "tempfail"]])
    check((await figure(id)) === (expected[key] ?? 0), `${id} shows ${await figure(id)}, the API says ${expected[key] ?? 0}`);
  check((await page.locator("#stat-queue").count()) === 1, "an administrator sees the queue");
  // The chart: one bar group per hour, the current hour's bars add up to the messages sent.
  check((await page.locator("svg.bars g.bar").count()) === 24, "24 hourly bars");
  const lastBar = page.locator("svg.bars g.bar").last();
  check((await lastBar.locator("rect:not(.hit)").count()) >= 3, "the current hour stacks accepted, tagged and rejected");
  const tooltip = (await lastBar.locator("title").textContent()) ?? "";
  check(tooltip.includes(`Accepted: ${expected.accept}`) && tooltip.includes(`Rejected: ${expected.reject}`), `tooltip: ${tooltip}`);
  const legend = (await page.locator("#chart-legend").textContent()) ?? "";
  check(legend.includes("Accepted") && legend.includes("Tagged") && legend.includes("Rejected"), `legend: ${legend}`);
  const reasons = (await page.locator("#top-reasons").textContent()) ?? "";
  check(reasons.includes("relay denied"), `top reasons: ${reasons}`);
  const ips = (await page.locator("#top-ips").textContent()) ?? "";
  check(ips.includes("127.0.0.1") && ips.includes(String(expected.all)), `top IPs: ${ips}`);
  check(((await page.locator("#top-rejected-domains").textContent()) ?? "").includes("bad.test"), "bad.test among the most rejected senders");
  const backends = (await page.locator("#backends").textContent()) ?? "";
  check(backends.includes("Reachable") && backends.includes("Unreachable"), `back-ends: ${backends}`);
  await shot("01-desktop-24h");
  done(JSON.stringify(expected));

  step("the figures as a table (keyboard and screen readers)");
  await page.locator(".chart-table summary").click();
  const tableRows = page.locator("#bucket-table tbody tr");
  check((await tableRows.count()) >= 1, "at least the current hour");
  done(`${await tableRows.count()} rows`);

  step("switch to 7 days and 30 days");
  await page.getByRole("button", { name: "7 days" }).click();
  await page.waitForFunction(() => document.querySelector("#main")?.dataset.loadedRange === "7d");
  check(new URL(page.url()).searchParams.get("range") === "7d", `address ${page.url()}`);
  check((await page.getByRole("button", { name: "7 days" }).getAttribute("aria-pressed")) === "true", "7 days pressed");
  check((await page.locator("svg.bars g.bar").count()) === 168, "168 hourly bars");
  check((await figure("stat-all")) === expected.all, "the same messages over 7 days");
  await shot("02-desktop-7d");
  await page.getByRole("button", { name: "30 days" }).click();
  await page.waitForFunction(() => document.querySelector("#main")?.dataset.loadedRange === "30d");
  check((await page.locator("svg.bars g.bar").count()) === 120, "120 six-hour bars");
  check(/6 hours/.test((await page.locator("#chart-title").textContent()) ?? ""), "the title says 6 hours");
  check((await figure("stat-all")) === expected.all, "the same messages over 30 days");
  await shot("03-desktop-30d");
  await page.getByRole("button", { name: "24 hours" }).click();
  await page.waitForFunction(() => document.querySelector("#main")?.dataset.loadedRange === "24h");
  done();

  step("a new message shows up without a reload");
  const before = await figure("stat-accept");
  run("SEND_COMMAND");
  await page.waitForFunction((n) => Number((document.querySelector("#stat-accept")?.textContent ?? "").replace(/[^0-9]/g, "")) === n, before + 1, { timeout: 20000 });
  done(`accepted ${before} → ${before + 1}`);

  step("paused while the tab is hidden");
  await page.evaluate(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  check(/paused/i.test((await page.locator("#live-status").textContent()) ?? ""), "the status says paused");
  let requests = 0;
  const count = (request) => {
    if (request.url().includes("/api/v1/stats")) requests++;
  };
  page.on("request", count);
  await page.waitForTimeout(6500);
  check(requests === 0, `${requests} requests while hidden`);
  await page.evaluate(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "visible" });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await page.waitForFunction(() => /live/i.test(document.querySelector("#live-status")?.textContent ?? ""));
  check(requests >= 1, "polls again once visible");
  page.off("request", count);
  done();

  step("a top reason links to the filtered message log");
  const link = page.locator("#top-reasons a", { hasText: "relay denied" });
  await link.click();
  await page.waitForURL((url) => url.pathname === "/messages" && url.searchParams.get("reason") === "relay denied");
  const url = new URL(page.url());
  check(url.searchParams.get("disposition") === "reject" && url.searchParams.get("from"), `filters: ${url.search}`);
  await page.locator("#message-table").waitFor();
  const rows = page.locator("#message-table tbody tr");
  check((await rows.count()) === 1, `${await rows.count()} rows for relay denied`);
  check((await rows.first().getAttribute("data-id")) === sent.relay[1], "the relay attempt");
  await shot("04-filtered-log");
  done(url.search);

  step("a top IP links to the log filtered by it");
  await page.goto(base + "/dashboard");
  await page.locator("#top-ips a", { hasText: "127.0.0.1" }).click();
  await page.waitForURL((u) => u.searchParams.get("client_ip") === "127.0.0.1");
  await page.locator("#message-table").waitFor();
  done();

  step("phone width: one column, nothing wider than the screen");
  await page.setViewportSize({ width: 375, height: 812 });
  await page.goto(base + "/dashboard");
  await page.locator("svg.bars").waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the dashboard is ${overflow}px wider than the screen`);
  await shot("05-phone-24h");
  done();

  // The session check before logging in answers 401, which the browser logs; nothing else may fail.
  const unexpected = consoleErrors.filter((text) => !/status of 401/.test(text));
  check(unexpected.length === 0, `console errors: ${unexpected.join("; ")}`);
});
