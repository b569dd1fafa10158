// Drives Debian's chromium through the Domains, Lists and Settings pages (run by
// tests/e2e/test_web_policy.py against a real daemon serving example.test and other.test):
// lowers example.test's reject threshold with a reject text of its own, adds an address, black-lists
// a sender domain, sees a bad list entry refused by name, turns SPF off, and takes screenshots at
// 1280 px and at phone width. The pytest side then checks that the gateway judges the next
// messages with what was set. Environment: GATEHOUSE_URL, GATEHOUSE_USER, GATEHOUSE_PASSWORD,
// SCREENSHOT_DIR, CHROMIUM. Prints one line per step; exits 1 at the first failure.
import { check, runBrowser } from "./harness.mjs";

const base = process.env.GATEHOUSE_URL;

await runBrowser({ name: "policy", timezoneId: "Europe/Berlin", acceptDialogs: true }, async ({ page, step, done, shot }) => {
  step("log in");
  await page.goto(`${base}/domains`);
  await page.fill("#username", process.env.GATEHOUSE_USER);
  await page.fill("#password", process.env.GATEHOUSE_PASSWORD);
  await page.press("#password", "Enter");
  await page.waitForURL(/\/domains$/);
  done();

  step("the Domains page lists both domains from the configuration file");
  await page.waitForSelector("table.domains");
  const names = await page.locator("table.domains tbody td:first-child").allTextContents();
  check(names.join(",") === "example.test,other.test", `domains shown: ${names}`);
  check((await page.locator("nav a", { hasText: "Domains" }).getAttribute("aria-current")) === "page", "Domains is the current page");
  await shot("policy-01-domains");
  done(names.join(", "));

  step("a domain's settings are changed with the keyboard");
  await page.click("text=example.test");
  await page.waitForSelector("#domain-reject");
  await page.fill("#domain-tag", "-60");
  await page.fill("#domain-reject", "-50");
  await page.fill("#domain-reject-text", "Refused by the browser's policy (ID:{id})");
  await page.focus("#domain-reject-text");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#domain-status.notice");
  check((await page.textContent("#domain-status")).includes("Saved"), "saved notice");
  done();

  step("a bad threshold is refused with the reason");
  await page.fill("#domain-tag", "5");
  await page.click("#domain-save");
  await page.waitForSelector("#domain-status.error");
  const refusal = await page.textContent("#domain-status");
  check(refusal.includes("must not be greater"), `refusal: ${refusal}`);
  await page.fill("#domain-tag", "-60");
  await page.click("#domain-save");
  await page.waitForSelector("#domain-status.notice");
  done(refusal);

  step("an address is added to the domain");
  await page.fill("#address-new", "erin@example.test");
  await page.press("#address-new", "Enter");
  await page.waitForSelector("#address-status.notice");
  await page.waitForSelector("table.addresses td:text('erin@example.test')");
  const rows = await page.locator("table.addresses tbody tr").count();
  check(rows === 2, `two addresses now (the file's alice and erin), got ${rows}`);
  await shot("policy-02-domain");
  done();

  step("the Lists page refuses a bad entry by name and saves a good one");
  await page.click("nav >> text=Lists");
  await page.waitForSelector("#list-blacklist");
  await page.fill("#list-blacklist", "blocked-by-browser.test\nnot valid!");
  await page.click("#list-blacklist-save");
  await page.waitForSelector("#list-blacklist-status.error");
  check((await page.textContent("#list-blacklist-status")).includes("not valid!"), "the bad entry is named");
  await page.fill("#list-blacklist", "blocked-by-browser.test\n# a comment line is left out");
  await page.click("#list-blacklist-save");
  await page.waitForSelector("#list-blacklist-status.notice");
  check((await page.textContent("#list-blacklist-status")).includes("1 entry"), "one entry saved");
  await shot("policy-03-lists");
  done();

  step("a message's sender is black-listed from its detail page");
  await page.goto(`${base}/messages?sender=${encodeURIComponent("pest@annoying.test")}`);
  await page.locator("table.messages tbody tr").first().getByRole("link").click();
  await page.click("#blacklist-sender");
  await page.waitForSelector("#action-status.ok");
  const listed = await page.textContent("#action-status");
  check(listed.includes("pest@annoying.test") && listed.includes("black list"), `after black-listing: ${listed}`);
  done(listed);

  step("the Settings page shows the file's values and saves an override");
  await page.goto(`${base}/settings`);
  await page.waitForSelector("#setting-spf");
  await page.selectOption("#setting-spf", "off");
  await page.click("#settings-save");
  await page.waitForSelector("#settings-status.notice");
  const inForce = await page.textContent("#setting-spf-help");
  check(inForce.includes("In force: off"), `SPF in force after the save: ${inForce}`);
  await page.waitForSelector("table.users");
  const users = await page.locator("table.users tbody tr").count();
  check(users >= 2, `the accounts are listed (${users})`);
  await shot("policy-04-settings");
  done();

  step("phone width");
  await page.setViewportSize({ width: 375, height: 812 });
  await page.goto(`${base}/domains/example.test`);
  await page.waitForSelector("table.addresses");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `no sideways scrolling at 375 px (overflow ${overflow}px)`);
  await shot("policy-05-phone-domain");
  await page.goto(`${base}/lists`);
  await page.waitForSelector("#list-whitelist");
  await shot("policy-06-phone-lists");
  done();
});
