// The Replay page: deliver again every accepted message of a time window (for one domain, or all
// for administrators) to its current back-end — e.g. to a mail server restored from a backup.
// First a preview (how many messages), then the run, followed live (done / failed / total) until
// its result. A running replay (one at a time per daemon) is picked up when the page is opened.
import { ApiError } from "./api";
import { el, replace } from "./dom";
import { formatTime, fromLocalInput, timeZone, toLocalInput } from "./format";
import type { App } from "./main";
import "./recovery.css";
import * as recovery from "./recovery_api";

function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  return el("div", { class: "field" }, el("label", { for: control.id }, label), control, hint ? el("small", { class: "muted" }, hint) : null);
}

export async function replayPage(app: App, main: HTMLElement): Promise<void> {
  document.title = "Replay · gatehouse";
  const session = app.session!;
  const admin = session.role === "admin";
  const now = Date.now();
  const since = el("input", { id: "replay-since", name: "since", type: "datetime-local", required: true, value: toLocalInput(now - 24 * 3600 * 1000) });
  const until = el("input", { id: "replay-until", name: "until", type: "datetime-local", value: toLocalInput(now + 60 * 1000) });
  // An administrator types a domain (or none: every domain); a domain administrator picks one of theirs.
  const domainControl: HTMLInputElement | HTMLSelectElement = admin
    ? el("input", { id: "replay-domain", name: "domain", type: "text", placeholder: "every domain", autocomplete: "off", spellcheck: "false" })
    : el("select", { id: "replay-domain", name: "domain" }, session.domains.map((d) => el("option", { value: d }, d)));

  const preview = el("button", { type: "submit", id: "replay-preview" }, "Count the messages");
  const run = el("button", { type: "button", class: "primary", id: "replay-run", disabled: true }, "Replay");
  const previewText = el("p", { id: "replay-count", role: "status", "aria-live": "polite", class: "muted" }, "Choose a window, then count the messages it covers.");
  const error = el("p", { class: "error", role: "alert", id: "replay-error", hidden: true });
  const progressBar = el("progress", { id: "replay-progress", max: 1, value: 0 });
  const progressText = el("p", { id: "replay-progress-text", role: "status", "aria-live": "polite" });
  const failures = el("ul", { class: "plain failures", id: "replay-failures" });
  const progressCard = el(
    "section",
    { class: "card", "aria-labelledby": "progress-title", id: "replay-job", hidden: true },
    el("h2", { id: "progress-title" }, "Progress"),
    progressBar,
    progressText,
    failures,
  );

  const form = el(
    "form",
    { class: "search", "aria-label": "Replay window" },
    el(
      "div",
      { class: "fields" },
      field(`From (${timeZone})`, since),
      field("Until", until),
      field("Recipient domain", domainControl, admin ? "Empty: every domain" : undefined),
    ),
    el("div", { class: "actions" }, preview, run),
    previewText,
    error,
  );

  let previewed: recovery.Window | null = null;
  const window = (): recovery.Window | null => {
    const from = fromLocalInput(since.value);
    const to = fromLocalInput(until.value);
    if (from === null) {
      showError("From: choose the start of the window.");
      return null;
    }
    if (until.value && to === null) {
      showError("Until: not a date and time.");
      return null;
    }
    const w: recovery.Window = { since: String(from) };
    if (to !== null) w.until = String(to);
    const d = domainControl.value.trim();
    if (d) w.domain = d;
    return w;
  };
  function showError(text: string) {
    error.textContent = text;
    error.hidden = false;
  }
  // Changing the window asks for a new count before running.
  for (const control of [since, until, domainControl])
    control.addEventListener("input", () => {
      previewed = null;
      run.disabled = true;
    });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const w = window();
    if (!w) return;
    preview.disabled = true;
    previewText.textContent = "Counting…";
    try {
      const result = await recovery.previewReplay(w);
      const where = result.domain ? ` for ${result.domain}` : " for every domain";
      previewText.textContent =
        result.count === 0
          ? `No accepted message with a stored copy between ${formatTime(result.since)} and ${formatTime(result.until)}${where}: nothing to replay.`
          : `${result.count} message${result.count === 1 ? "" : "s"} between ${formatTime(result.since)} and ${formatTime(result.until)}${where} will be delivered again to ${result.count === 1 ? "its" : "their"} current back-end.`;
      previewed = result.count > 0 ? w : null;
      run.disabled = result.count === 0;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      previewText.textContent = "";
      showError((e as Error).message);
    } finally {
      preview.disabled = false;
    }
  });

  function showJob(job: recovery.Job) {
    progressCard.hidden = false;
    progressBar.max = Math.max(job.total, 1);
    progressBar.value = job.total === 0 ? 1 : job.done;
    progressBar.setAttribute("aria-valuetext", `${job.done} of ${job.total}`);
    const counts = `${job.done} / ${job.total} done, ${job.failed} failed`;
    const where = job.domain ? ` for ${job.domain}` : "";
    if (job.state === "running") progressText.textContent = `Replaying${where}: ${counts}…`;
    else if (job.state === "done") progressText.textContent = `Finished${where}: ${counts}. Every message was delivered.`;
    else progressText.textContent = `Finished${where}: ${counts}. The failed messages stay stored; see their log rows, or replay again later.`;
    progressText.className = job.state === "running" ? "" : job.state === "done" ? "ok" : "error-text";
    replace(failures, (job.failures ?? []).map((f) => el("li", null, f)));
  }

  async function followJob(job: recovery.Job) {
    run.disabled = true;
    preview.disabled = true;
    try {
      await recovery.follow(job, showJob);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      showError((e as Error).message);
    } finally {
      preview.disabled = false;
      run.disabled = previewed === null;
    }
  }

  run.addEventListener("click", async () => {
    if (!previewed) return;
    error.hidden = true;
    run.disabled = true;
    try {
      const job = await recovery.startReplay(previewed);
      previewed = null;
      await followJob(job);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      showError((e as Error).message);
      run.disabled = false;
    }
  });

  replace(
    main,
    el("h1", null, "Replay"),
    el(
      "p",
      { class: "muted intro" },
      "Delivers again every accepted or tagged message of a time window to its recipients' current back-end, oldest first — for example to a mail server restored from a backup. Rejected messages are not replayed (release them one by one).",
    ),
    form,
    progressCard,
  );

  // A replay already running (or the last one) is shown at once.
  try {
    const last = await recovery.lastReplay();
    if (last.job) {
      showJob(last.job);
      if (last.job.state === "running") void followJob(last.job);
    }
  } catch {
    /* the form works without it */
  }
}
