// Drives Debian's chromium through gatehouse's recovery pages (run by
// tests/e2e/test_web_recovery_browser.py against a real daemon): releases a rejected message from
// its detail page and sees the back-end's answer, runs a replay and follows its progress to the end,
// opens the Queue page and deletes a queued message after the confirmation. playwright-core comes
// from web/node_modules; it never downloads a browser. Input in the environment:
//   GATEHOUSE_URL, GATEHOUSE_USER, GATEHOUSE_PASSWORD
//   REJECTED_ID         a message the back-end refused (now fixed): to release
//   REPLAY_DOMAIN       a domain with REPLAY_COUNT accepted messages in the last hour
//   REPLAY_COUNT
//   QUEUED_ID           a message waiting in the queue (its back-end is down)
//   SCREENSHOT_DIR, CHROMIUM
// Prints one line per step; exits 1 with the reason at the first failure.
import { check, runBrowser } from "./harness.mjs";

const base = process.env.GATEHOUSE_URL;
const rejectedId = process.env.REJECTED_ID;
const replayDomain = process.env.REPLAY_DOMAIN;
const replayCount = Number(process.env.REPLAY_COUNT);
const queuedId = process.env.QUEUED_ID;

await runBrowser({ name: "recovery", timezoneId: "Europe/Berlin" }, async ({ page, step, done, shot: pageShot, consoleErrors }) => {
  page.setDefaultTimeout(20000);
  const shot = (name) => pageShot(`recovery-${name}`);
  const phone = async (name) => {
    await page.setViewportSize({ width: 375, height: 812 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `${name} is ${overflow}px wider than a phone's screen`);
    await shot(`${name}-phone`);
    await page.setViewportSize({ width: 1280, height: 900 });
  };

  step("log in");
  await page.goto(`${base}/messages/${rejectedId}`);
  await page.locator("form.login").waitFor();
  await page.getByLabel("User name").fill(process.env.GATEHOUSE_USER);
  await page.getByLabel("Password").fill(process.env.GATEHOUSE_PASSWORD);
  await page.getByLabel("Password").press("Enter");
  await page.locator("#message-subject").waitFor();
  check(new URL(page.url()).pathname === `/messages/${rejectedId}`, `back at the message: ${page.url()}`);
  done();

  step("release the rejected message and see the back-end's answer");
  check((await page.locator("#message-disposition").textContent()) === "Rejected", "the message is rejected");
  const release = page.getByRole("button", { name: "Release" });
  await release.focus();
  await page.keyboard.press("Enter");   // the keyboard works the actions
  const status = page.locator("#action-status");
  await status.filter({ hasText: /^Released: delivered/ }).waitFor();
  const statusText = (await status.textContent()) ?? "";
  check(/250/.test(statusText), `the back-end's answer: ${statusText}`);
  // The delivery facts show the outcome recorded in the log row.
  await page.locator("#delivery dd", { hasText: "released" }).first().waitFor();
  await shot("01-released-detail");
  await phone("02-released-detail");
  done(statusText);

  step("the Replay page counts the window before running");
  await page.getByRole("link", { name: "Replay" }).click();
  await page.locator("#replay-since").waitFor();
  await page.getByLabel("Recipient domain").fill(replayDomain);
  check(await page.locator("#replay-run").isDisabled(), "Replay needs a count first");
  await page.getByRole("button", { name: "Count the messages" }).click();
  const count = page.locator("#replay-count");
  await count.filter({ hasText: `${replayCount} messages` }).waitFor();
  const countText = (await count.textContent()) ?? "";
  check(countText.includes(replayDomain), `the count names the domain: ${countText}`);
  await shot("03-replay-preview");
  done(countText);

  step("run the replay and follow its progress to the end");
  const seen = new Set();
  const progress = page.locator("#replay-progress-text");
  await page.getByRole("button", { name: "Replay", exact: true }).click();
  const deadline = Date.now() + 60000;
  let progressText = "";
  while (Date.now() < deadline) {
    progressText = (await progress.textContent()) ?? "";
    if (progressText) seen.add(progressText);
    if (progressText.startsWith("Finished")) break;
    await page.waitForTimeout(100);
  }
  check(progressText.includes(`${replayCount} / ${replayCount} done, 0 failed`), `final progress: ${progressText}`);
  check(/Every message was delivered/.test(progressText), progressText);
  const bar = page.locator("#replay-progress");
  check(Number(await bar.getAttribute("value")) === replayCount, "the progress bar is full");
  await shot("04-replay-finished");
  await phone("05-replay-finished");
  done(`${[...seen].join(" | ")}`);

  step("the Queue page lists the waiting message with its last error");
  await page.getByRole("link", { name: "Queue" }).click();
  const row = page.locator(`#queue-table tr[data-id="${queuedId}"]`);
  await row.waitFor();
  const rowText = (await row.textContent()) ?? "";
  check(/refused|connect|Connection/i.test(rowText), `the last error is shown: ${rowText}`);
  await shot("06-queue");
  await phone("07-queue");
  done();

  step("delete asks first, says the copy stays stored, then the queue is empty");
  await row.getByRole("button", { name: `Delete ${queuedId} from the queue` }).click();
  const dialog = page.locator("#delete-dialog");
  await dialog.waitFor();
  const dialogText = (await dialog.textContent()) ?? "";
  check(/stays stored in the message log/.test(dialogText) && /resend/.test(dialogText), `the confirmation: ${dialogText}`);
  await shot("08-queue-delete-confirmation");
  await page.keyboard.press("Escape");   // cancelling deletes nothing
  await dialog.waitFor({ state: "detached" });
  await row.waitFor();
  await row.getByRole("button", { name: `Delete ${queuedId} from the queue` }).click();
  await page.getByRole("button", { name: "Delete from the queue" }).click();
  await page.locator("#queue-empty").waitFor();
  const notice = (await page.locator("#queue-status").textContent()) ?? "";
  check(notice.includes(queuedId) && /stays stored/.test(notice), `the notice: ${notice}`);
  await shot("09-queue-empty");
  await phone("10-queue-empty");
  done(notice);

  const unexpected = consoleErrors.filter((text) => !/status of (401|404|400)/.test(text));
  check(unexpected.length === 0, `console errors: ${unexpected.join("; ")}`);
});
