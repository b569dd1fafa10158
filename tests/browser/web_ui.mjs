// Drives Debian's chromium through gatehouse's web interface (run by tests/e2e/test_web_browser.py
// against a real daemon). playwright-core comes from web/node_modules; it never downloads a
// browser. Input in the environment:
//   GATEHOUSE_URL       http://127.0.0.1:PORT
//   GATEHOUSE_USER, GATEHOUSE_PASSWORD
//   SUBJECT             the Subject of a message the test sent through the gateway
//   HOSTILE_SUBJECT     the Subject of a message with markup in it (<script>alert(1)</script>)
//   SCREENSHOT_DIR      where the screenshots go
//   CHROMIUM            the browser (default /usr/bin/chromium)
// Prints one line per step; exits 1 with the reason at the first failure.
import { check, runBrowser } from "./harness.mjs";

const base = process.env.GATEHOUSE_URL;
const user = process.env.GATEHOUSE_USER;
const password = process.env.GATEHOUSE_PASSWORD;
const subject = process.env.SUBJECT;
const hostile = process.env.HOSTILE_SUBJECT;

await runBrowser({ name: "web", timezoneId: "America/New_York" }, async ({ page, step, done, shot, dialogs, consoleErrors }) => {
  step("an unknown visitor is sent to the login page");
  await page.goto(base + "/messages");
  await page.locator("form.login").waitFor();
  check(new URL(page.url()).pathname === "/login", `at ${page.url()}`);
  await shot("01-login");
  done();

  step("a wrong password shows the API's error");
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill("not the password");
  await page.getByLabel("Password").press("Enter");   // the keyboard submits the form
  const error = page.locator("#login-error");
  await error.waitFor({ state: "visible" });
  const errorText = (await error.textContent()) ?? "";
  check(/wrong user name or password/i.test(errorText), `error text: ${errorText}`);
  check((await page.getByLabel("Password").inputValue()) === "", "the wrong password stays in the field");
  await shot("02-login-wrong-password");
  done(errorText);

  step("log in");
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator("#current-user").waitFor();
  check((await page.locator("#current-user").textContent()) === user, "the header names the user");
  check(new URL(page.url()).pathname === "/messages", `after login at ${page.url()} (the page asked for first)`);
  await page.locator("#message-table, #empty-state").first().waitFor();
  await shot("03-message-log");
  done();

  step("find the sent message by its subject");
  await page.getByLabel("Subject contains").fill(subject);
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForURL((url) => url.searchParams.get("subject") === subject);
  const row = page.locator("#message-table tbody tr", { hasText: subject });
  await row.waitFor();
  check((await page.locator("#message-table tbody tr").count()) === 1, "one row for the subject");
  const id = await row.getAttribute("data-id");
  const timeText = (await row.locator("time").textContent()) ?? "";
  const record = await (await page.request.get(`${base}/api/v1/messages/${id}`)).json();
  // Shown in the viewer's time zone (the browser's: America/New_York here), not the server's.
  const locale = await page.evaluate(() => navigator.language);
  const options = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" };
  const expected = new Intl.DateTimeFormat(locale, { ...options, timeZone: "America/New_York" }).format(new Date(record.time));
  check(timeText === expected, `time "${timeText}" should be New York's "${expected}"`);
  await shot("04-search-result");
  done(`${id} at ${timeText}`);

  step("open its detail and see the score breakdown");
  await row.getByRole("link").click();
  await page.locator("#message-subject").waitFor();
  check(new URL(page.url()).pathname === `/messages/${id}`, `at ${page.url()}`);
  check((await page.locator("#message-subject").textContent()) === subject, "the subject heading");
  check((await page.locator("#message-id").textContent()) === id, "the ID");
  const checks = page.locator("#score-breakdown tbody tr");
  check(record.checks.length > 0, "the API lists checks for this message");
  check((await checks.count()) === record.checks.length, `${await checks.count()} rows for ${record.checks.length} checks`);
  for (const c of record.checks) {
    const line = page.locator("#score-breakdown tbody tr", { hasText: c.name }).first();
    check((await line.count()) === 1, `a row for check ${c.name}`);
  }
  const envelope = (await page.locator("section[aria-labelledby=envelope-title]").textContent()) ?? "";
  check(envelope.includes(record.mail_from) && envelope.includes(record.recipients[0]), "the envelope");
  const delivery = (await page.locator("section[aria-labelledby=delivery-title]").textContent()) ?? "";
  check(delivery.includes(record.delivery_status), `delivery state ${record.delivery_status}`);
  await page.getByRole("button", { name: "Show the source" }).click();
  await page.locator("#raw-source").waitFor({ state: "visible" });
  const raw = (await page.locator("#raw-source").textContent()) ?? "";
  check(raw.includes(`Subject: `) && raw.includes(subject), "the raw source shows the Subject");
  const download = page.locator("#download-raw");
  check((await download.getAttribute("href")) === `/api/v1/messages/${id}/raw`, "the download link");
  const [downloaded] = await Promise.all([page.waitForEvent("download"), download.click()]);
  check(downloaded.suggestedFilename() === `${id}.eml`, `download named ${downloaded.suggestedFilename()}`);
  await shot("05-message-detail");
  done(`${record.checks.length} checks`);

  step("a deep link survives a reload (index.html for the interface's routes)");
  await page.reload();
  await page.locator("#message-subject").waitFor();
  done();

  step("pages by the API's cursor");
  await page.goto(base + "/messages?limit=1");
  const rows = page.locator("#message-table tbody tr");
  await rows.first().waitFor();
  check((await rows.count()) === 1, "one row on a page of one");
  const newest = await rows.first().getAttribute("data-id");
  await page.locator("#older").click();
  await page.waitForURL((url) => url.searchParams.has("before"));
  await page.locator(`#message-table tbody tr:not([data-id="${newest}"])`).waitFor();
  const older = await rows.first().getAttribute("data-id");
  check((await rows.count()) === 1 && older !== newest, "the next page has the next message");
  await shot("06-paged-older");
  await page.locator("#newest").click();
  await page.locator(`#message-table tbody tr[data-id="${newest}"]`).waitFor();
  check((await page.locator("#search-limit").inputValue()) === "1", "the page size stays");
  done(`${newest} then ${older}`);

  step("a Subject with markup is shown as text");
  await page.goto(base + "/messages?subject=" + encodeURIComponent("<script>"));
  const hostileLink = page.locator("#message-table a.subject-link", { hasText: hostile }).first();
  await hostileLink.waitFor();
  check((await hostileLink.textContent()) === hostile, "the link text is the Subject's characters");
  await shot("07-hostile-in-log");
  await hostileLink.click();
  await page.locator("#message-subject").waitFor();
  check((await page.locator("#message-subject").textContent()) === hostile, "the heading is the Subject's characters");
  await page.getByRole("button", { name: "Show the source" }).click();
  await page.locator("#raw-source").waitFor({ state: "visible" });
  check((await page.locator("#app script").count()) === 0, "no <script> element in the page's content");
  await page.waitForTimeout(300);
  check(dialogs.length === 0, `dialogs: ${dialogs.join("; ")}`);
  await shot("08-hostile-detail");
  done();

  step("an empty search says so");
  await page.goto(base + "/messages?subject=" + encodeURIComponent("no such subject anywhere 7f3a"));
  await page.locator("#empty-state").waitFor();
  check(/no messages match/i.test((await page.locator("#empty-state").textContent()) ?? ""), "empty state text");
  await shot("09-empty-search");
  done();

  step("an error of the API is shown");
  await page.goto(base + "/messages?before=not-a-cursor");
  await page.locator("#search-error").waitFor();
  check(/cursor/.test((await page.locator("#search-error").textContent()) ?? ""), "the API's message");
  await page.goto(base + "/messages/NO-SUCH-ID");
  await page.locator("#detail-error").waitFor();
  await shot("10-no-such-message");
  done();

  step("phone width: one column, nothing wider than the screen");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(base + "/messages?subject=" + encodeURIComponent(subject));
  await page.locator("#message-table tbody tr").first().waitFor();
  let overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the log is ${overflow}px wider than the screen`);
  await shot("11-phone-message-log");
  await page.goto(`${base}/messages/${id}`);
  await page.locator("#message-subject").waitFor();
  overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the detail is ${overflow}px wider than the screen`);
  await shot("12-phone-message-detail");
  await page.setViewportSize({ width: 1280, height: 900 });
  done();

  step("log out");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.locator("form.login").waitFor();
  const after = await page.request.get(`${base}/api/v1/session`);
  check(after.status() === 401, `the session after logging out: ${after.status()}`);
  await shot("13-logged-out");
  done();

  // The only console errors allowed are the API's own refusals the steps provoked (401, 404).
  const unexpected = consoleErrors.filter((text) => !/status of (401|404|400)/.test(text));
  check(unexpected.length === 0, `console errors: ${unexpected.join("; ")}`);
});
