// The Queue page: the messages waiting for a retry because their back-end did not take them
// (down or slow) — recipients, attempts, next retry, the last answer — with "retry now" (one or
// all) and delete (after a confirmation that says what happens: the copy stays in the log).
import { ApiError } from "./api";
import { el, replace } from "./dom";
import { formatTime, isoTime } from "./format";
import type { App } from "./main";
import "./recovery.css";
import * as recovery from "./recovery_api";

export async function queuePage(app: App, main: HTMLElement): Promise<void> {
  document.title = "Queue · gatehouse";
  void app;
  const status = el("p", { id: "queue-status", role: "status", "aria-live": "polite", class: "action-status", hidden: true });
  const show = (text: string, kind: "ok" | "error" | "info") => {
    status.hidden = false;
    status.className = `action-status ${kind}`;
    status.textContent = text;
  };
  const refresh = el("button", { type: "button", id: "queue-refresh" }, "Refresh");
  const retryAll = el("button", { type: "button", class: "primary", id: "queue-retry-all" }, "Retry all now");
  const body = el("section", { id: "queue-body", "aria-live": "polite", "aria-busy": "true" }, el("p", { class: "loading" }, "Loading…"));
  replace(
    main,
    el("h1", null, "Delivery queue"),
    el("p", { class: "muted intro" }, "Messages the back-end did not take yet (down or slow). They are retried on a schedule until they are delivered or expire; nothing here is bounced."),
    el("div", { class: "actions" }, retryAll, refresh),
    status,
    body,
  );

  async function load() {
    body.setAttribute("aria-busy", "true");
    let listing: { messages: recovery.QueuedMessage[]; total: number };
    try {
      listing = await recovery.queue();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      replace(body, el("p", { class: "error", role: "alert" }, (error as Error).message));
      return;
    }
    body.setAttribute("aria-busy", "false");
    retryAll.disabled = listing.messages.length === 0;
    if (listing.messages.length === 0) {
      replace(body, el("div", { class: "empty", id: "queue-empty" }, el("p", null, el("strong", null, "The queue is empty.")), el("p", { class: "muted" }, "Every message has been handed to its back-end.")));
      return;
    }
    replace(
      body,
      el("p", { class: "count", id: "queue-count" }, `${listing.total} message${listing.total === 1 ? "" : "s"} waiting${listing.total > listing.messages.length ? ` (the oldest ${listing.messages.length} shown)` : ""}`),
      el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          { class: "queue", id: "queue-table" },
          el("caption", { class: "visually-hidden" }, "Queued messages"),
          el(
            "thead",
            null,
            el("tr", null, ["Queued", "Recipients", "Sender / subject", "Attempts", "Next retry", "Last answer", ""].map((h) => el("th", { scope: "col" }, h))),
          ),
          el("tbody", null, listing.messages.map((m) => row(m))),
        ),
      ),
    );
  }

  function row(m: recovery.QueuedMessage): HTMLElement {
    const retry = el("button", { type: "button", class: "retry", "aria-label": `Retry ${m.id} now`, disabled: m.in_flight }, "Retry now");
    const remove = el("button", { type: "button", class: "delete danger", "aria-label": `Delete ${m.id} from the queue`, disabled: m.in_flight }, "Delete…");
    retry.addEventListener("click", async () => {
      retry.disabled = true;
      try {
        await recovery.retryOne(m.id);
        show(`${m.id} is retried now. Refresh in a moment to see the outcome.`, "ok");
        setTimeout(() => void load(), 1500);
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return;
        show((error as Error).message, "error");
        retry.disabled = false;
      }
    });
    remove.addEventListener("click", () => confirmDelete(m));
    const recipients = m.recipients.join(", ") + (m.hidden_recipients ? ` (and ${m.hidden_recipients} of other domains)` : "");
    return el(
      "tr",
      { "data-id": m.id },
      el("td", { "data-label": "Queued" }, el("time", { datetime: isoTime(m.queued) }, formatTime(m.queued)), el("br"), el("a", { href: `/messages/${encodeURIComponent(m.id)}`, "data-link": true }, el("code", null, m.id))),
      el("td", { "data-label": "Recipients", class: "address" }, recipients || "—", el("br"), el("small", { class: "muted" }, `→ ${m.backend}`)),
      el("td", { "data-label": "Sender / subject", class: "subject" }, m.sender || "<>", el("br"), el("small", { class: "muted" }, m.subject || "(no subject)")),
      el("td", { "data-label": "Attempts", class: "number" }, String(m.attempts)),
      el("td", { "data-label": "Next retry" }, m.in_flight ? "being delivered now" : m.next_attempt === null ? "—" : el("time", { datetime: isoTime(m.next_attempt) }, formatTime(m.next_attempt))),
      el("td", { "data-label": "Last answer", class: "detail" }, m.problem || m.last_error || "—"),
      el("td", { class: "row-actions" }, retry, " ", remove),
    );
  }

  // A dialog that says what deleting does before it is done.
  function confirmDelete(m: recovery.QueuedMessage) {
    const dialog = el("dialog", { id: "delete-dialog", "aria-labelledby": "delete-title" });
    const cancel = el("button", { type: "button", id: "delete-cancel" }, "Cancel");
    const confirm = el("button", { type: "button", class: "danger", id: "delete-confirm" }, "Delete from the queue");
    dialog.append(
      el("h2", { id: "delete-title" }, `Delete ${m.id} from the queue?`),
      el("p", null, `It will no longer be retried for ${m.recipients.join(", ") || "its recipients"}. Nothing is sent to the sender.`),
      el("p", null, "The message itself is not lost: its copy stays stored in the message log, from where you can resend it later."),
      el("div", { class: "actions" }, confirm, cancel),
    );
    const close = () => {
      dialog.close();
      dialog.remove();
    };
    cancel.addEventListener("click", close);
    dialog.addEventListener("cancel", () => dialog.remove());
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        const result = await recovery.deleteQueued(m.id);
        close();
        show(`${m.id} deleted from the queue. ${result.note}`, "ok");
        await load();
      } catch (error) {
        close();
        if (error instanceof ApiError && error.status === 401) return;
        show((error as Error).message, "error");
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  }

  refresh.addEventListener("click", () => void load());
  retryAll.addEventListener("click", async () => {
    retryAll.disabled = true;
    try {
      const result = await recovery.retryAll();
      show(`${result.retrying} message${result.retrying === 1 ? " is" : "s are"} retried now. Refresh in a moment to see the outcome.`, "ok");
      setTimeout(() => void load(), 1500);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      show((error as Error).message, "error");
    } finally {
      retryAll.disabled = false;
    }
  });
  await load();
}
