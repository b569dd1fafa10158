// The message detail page's actions: release a rejected message (deliver its stored copy to the
// recipients' back-end), resend one, teach the classifier it is ham or spam. A delivery runs in
// the daemon; the page follows its job until the back-end has answered and shows that answer.
import type * as api from "./api";
import { ApiError } from "./api";
import { el, replace } from "./dom";
import "./recovery.css";
import * as recovery from "./recovery_api";
import { listSender } from "./api_policy";

function outcomeText(job: recovery.Job): string {
  const verb = job.kind === "release" ? "Released" : "Resent";
  if (job.state === "running") return `${job.kind === "release" ? "Releasing" : "Resending"}: waiting for the back-end…`;
  if (job.state === "done") {
    let text = `${verb}: delivered to ${job.backend}${job.detail ? ` — ${job.detail}` : ""}.`;
    if (job.learned_as_ham) text += " The classifier learns it as ham.";
    return text;
  }
  return `Not delivered${job.backend ? ` to ${job.backend}` : ""}: ${job.detail || "the delivery failed"}. The message stays stored; try again later.`;
}

// The actions card for message `m`; `changed` is called when its delivery state changed.
export function messageActions(m: api.MessageDetail, changed: () => void): HTMLElement {
  const status = el("p", { id: "action-status", role: "status", "aria-live": "polite", class: "action-status", hidden: true });
  const show = (text: string, kind: "info" | "ok" | "error") => {
    status.hidden = false;
    status.className = `action-status ${kind}`;
    status.textContent = text;
  };
  const buttons: HTMLButtonElement[] = [];
  const busy = (on: boolean) => buttons.forEach((b) => (b.disabled = on));

  async function deliver(kind: "release" | "resend") {
    busy(true);
    show(kind === "release" ? "Releasing…" : "Resending…", "info");
    try {
      const started = kind === "release" ? await recovery.release(m.id) : await recovery.resend(m.id);
      const finished = await recovery.follow(started, (job) => show(outcomeText(job), job.state === "running" ? "info" : job.state === "done" ? "ok" : "error"));
      if (finished.state !== "running") changed();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      show((error as Error).message, "error");
    } finally {
      busy(false);
    }
  }

  async function train(as: "ham" | "spam") {
    busy(true);
    try {
      await recovery.train(m.id, as);
      show(`The classifier learns this message as ${as} (within a few seconds).`, "ok");
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      show((error as Error).message, "error");
    } finally {
      busy(false);
    }
  }

  // White-/black-listing the envelope sender (src/web/api_lists.cpp): an administrator's lists are
  // global, a domain administrator's are the message's domain's.
  async function list(which: "whitelist" | "blacklist") {
    busy(true);
    try {
      const listed = await listSender(m.id, which);
      const where = listed.domain ? `the ${listed.domain} ` : "the ";
      show(`${listed.entry} is on ${where}${which === "whitelist" ? "white" : "black"} list: its next message is ${which === "whitelist" ? "accepted" : "refused"}.`, "ok");
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      show((error as Error).message, "error");
    } finally {
      busy(false);
    }
  }
  const listRow = el("div", { class: "actions" });
  if (m.mail_from) {
    const white = el("button", { type: "button", id: "whitelist-sender" }, "White-list the sender");
    white.addEventListener("click", () => void list("whitelist"));
    const black = el("button", { type: "button", id: "blacklist-sender" }, "Black-list the sender");
    black.addEventListener("click", () => void list("blacklist"));
    buttons.push(white, black);
    listRow.append(white, black);
  }

  const card = el("section", { class: "card", "aria-labelledby": "actions-title", id: "message-actions" }, el("h2", { id: "actions-title" }, "Actions"));
  if (!m.has_message) {
    card.append(el("p", { class: "muted" }, "No copy of this message is stored, so it cannot be delivered or learned from."), listRow, status);
    return card;
  }
  const rejected = m.disposition === "reject" || m.disposition === "tempfail";
  const row = el("div", { class: "actions" });
  if (rejected) {
    const release = el("button", { type: "button", class: "primary", id: "release" }, "Release");
    release.addEventListener("click", () => void deliver("release"));
    buttons.push(release);
    row.append(release);
  }
  const resend = el("button", { type: "button", id: "resend" }, "Resend");
  resend.addEventListener("click", () => void deliver("resend"));
  const ham = el("button", { type: "button", id: "train-ham" }, "Train as ham");
  ham.addEventListener("click", () => void train("ham"));
  const spam = el("button", { type: "button", id: "train-spam" }, "Train as spam");
  spam.addEventListener("click", () => void train("spam"));
  buttons.push(resend, ham, spam);
  row.append(resend, ham, spam);
  replace(
    card,
    el("h2", { id: "actions-title" }, "Actions"),
    el(
      "p",
      { class: "muted" },
      rejected
        ? "Release delivers the stored copy to the recipients' current back-end (the rejection stays on record). "
        : "Resend delivers the stored copy again to the recipients' current back-end. ",
      "Training teaches the adaptive classifier.",
    ),
    row,
    listRow,
    status,
  );
  return card;
}
