// The message log: a search form whose fields are the API's parameters (times entered in the
// viewer's time zone), results newest first, pages by the API's cursor. The search lives in the
// address (/messages?subject=…&before=…), so Back, reload and bookmarks work.
import * as api from "./api";
import { el, replace } from "./dom";
import { dispositionLabel, dispositions, formatScore, formatTime, fromLocalInput, isoTime, timeZone } from "./format";
import type { App } from "./main";

// Form fields and the API parameter each one fills. "from"/"to" are local times in the form and
// in the address, milliseconds for the API.
const textFields: { name: string; label: string; placeholder: string; type?: string }[] = [
  { name: "sender", label: "Sender", placeholder: "someone@example.org" },
  { name: "recipient", label: "Recipient", placeholder: "alice@example.test" },
  { name: "subject", label: "Subject contains", placeholder: "invoice" },
  { name: "client_ip", label: "Client IP", placeholder: "192.0.2.7 or 192.0.2." },
  { name: "reason", label: "Reason contains", placeholder: "RBL" },
  { name: "id", label: "Message ID", placeholder: "from a reply's (ID:…)" },
];
const searchKeys = ["from", "to", "disposition", ...textFields.map((f) => f.name)];
const pageSizes = ["50", "100", "200", "500"];

function field(label: string, control: HTMLElement): HTMLElement {
  return el("div", { class: "field" }, el("label", { for: control.id }, label), control);
}

export async function logPage(app: App, main: HTMLElement): Promise<void> {
  document.title = "Message log · gatehouse";
  const params = new URLSearchParams(location.search);

  const from = el("input", { id: "search-from", name: "from", type: "datetime-local", value: params.get("from") ?? "" });
  const to = el("input", { id: "search-to", name: "to", type: "datetime-local", value: params.get("to") ?? "" });
  const disposition = el(
    "select",
    { id: "search-disposition", name: "disposition" },
    el("option", { value: "" }, "Any"),
    Object.entries(dispositions).map(([value, label]) => el("option", { value, selected: params.get("disposition") === value }, label)),
  );
  // Rows per page: the API's limit (1–500); the address may carry any size, the list offers four.
  const limitValue = params.get("limit") ?? "";
  const limit = el(
    "select",
    { id: "search-limit", name: "limit" },
    [...new Set([...(limitValue && !pageSizes.includes(limitValue) ? [limitValue] : []), ...pageSizes])].map((size) =>
      el("option", { value: size, selected: (limitValue || "50") === size }, size),
    ),
  );
  const inputs = textFields.map((f) =>
    el("input", { id: `search-${f.name}`, name: f.name, type: "search", placeholder: f.placeholder, value: params.get(f.name) ?? "", autocomplete: "off", spellcheck: "false" }),
  );

  const form = el(
    "form",
    { class: "search", role: "search", "aria-label": "Search the message log" },
    el(
      "div",
      { class: "fields" },
      field(`From (${timeZone})`, from),
      field("Until", to),
      field("Disposition", disposition),
      textFields.map((f, i) => field(f.label, inputs[i])),
      field("Per page", limit),
    ),
    el(
      "div",
      { class: "actions" },
      el("button", { type: "submit", class: "primary", id: "search-button" }, "Search"),
      el("button", { type: "button", id: "search-clear" }, "Clear"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (from.value) next.set("from", from.value);
    if (to.value) next.set("to", to.value);
    if (disposition.value) next.set("disposition", disposition.value);
    if (limit.value && limit.value !== "50") next.set("limit", limit.value);
    textFields.forEach((f, i) => {
      const value = inputs[i].value.trim();
      if (value) next.set(f.name, value);
    });
    const query = next.toString();
    app.navigate(`/messages${query ? "?" + query : ""}`);
  });
  form.querySelector("#search-clear")!.addEventListener("click", () => app.navigate("/messages"));

  const results = el("section", { class: "results", "aria-live": "polite", "aria-busy": "true", id: "results" }, el("p", { class: "loading" }, "Searching…"));
  replace(main, el("h1", null, "Message log"), form, results);

  // The API's query: the same keys, times as milliseconds, the page cursor, nothing empty.
  const query = new URLSearchParams();
  for (const key of searchKeys) {
    const value = params.get(key);
    if (!value) continue;
    if (key === "from" || key === "to") {
      const milliseconds = fromLocalInput(value);
      if (milliseconds === null) {
        showError(results, `${key === "from" ? "From" : "Until"}: "${value}" is not a date and time.`);
        return;
      }
      query.set(key, String(milliseconds));
    } else query.set(key, value);
  }
  const before = params.get("before");
  if (before) query.set("before", before);
  if (limitValue) query.set("limit", limitValue);

  let page: api.SearchPage;
  try {
    page = await api.searchMessages(query);
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 401) return;
    showError(results, (error as Error).message);
    return;
  }
  results.setAttribute("aria-busy", "false");

  const filtered = searchKeys.some((key) => params.get(key));
  if (page.messages.length === 0) {
    replace(
      results,
      el(
        "div",
        { class: "empty", id: "empty-state" },
        el("h2", null, before ? "No older messages" : filtered ? "No messages match this search" : "No messages yet"),
        el(
          "p",
          null,
          before
            ? "This was the last page."
            : filtered
              ? "Try a wider time range or fewer fields. Sender and recipient match whole addresses; the subject matches any part."
              : "Messages appear here as soon as gatehouse has handled a transaction.",
        ),
      ),
    );
    return;
  }

  const table = el(
    "table",
    { class: "messages", id: "message-table" },
    el("caption", { class: "visually-hidden" }, "Messages, newest first"),
    el(
      "thead",
      null,
      el("tr", null, ["Time", "Disposition", "Score", "Sender", "Recipients", "Subject", "Client IP", "Reason"].map((h) => el("th", { scope: "col" }, h))),
    ),
    el("tbody", null, page.messages.map(row)),
  );

  const pager = el("nav", { class: "pager", "aria-label": "Pages" });
  if (before) {
    const newest = new URLSearchParams(params);
    newest.delete("before");
    const text = newest.toString();
    pager.append(el("a", { href: `/messages${text ? "?" + text : ""}`, "data-link": true, id: "newest", class: "button" }, "⇤ Newest"));
  }
  if (page.next) {
    const older = new URLSearchParams(params);
    older.set("before", page.next);
    pager.append(el("a", { href: `/messages?${older.toString()}`, "data-link": true, id: "older", class: "button" }, "Older →"));
  }
  replace(results, el("p", { class: "muted count" }, `${page.messages.length} message${page.messages.length === 1 ? "" : "s"}${page.next ? " on this page" : ""}, newest first.`), el("div", { class: "table-wrap" }, table), pager);
}

function row(message: api.MessageRecord): HTMLElement {
  const link = el("a", { href: `/messages/${encodeURIComponent(message.id)}`, "data-link": true, class: "subject-link" }, message.subject || "(no subject)");
  const recipients = [...message.recipients, ...message.rejected_recipients.map((r) => r.split(": ")[0] + " (refused)")];
  return el(
    "tr",
    { "data-id": message.id },
    el("td", { "data-label": "Time" }, el("time", { datetime: isoTime(message.time) }, formatTime(message.time))),
    el("td", { "data-label": "Disposition" }, el("span", { class: `badge ${message.disposition}` }, dispositionLabel(message.disposition))),
    el("td", { "data-label": "Score", class: "number" }, formatScore(message.score)),
    el("td", { "data-label": "Sender", class: "address" }, message.mail_from || "<>"),
    el("td", { "data-label": "Recipients", class: "address" }, recipients.join(", ") || "—"),
    el("td", { "data-label": "Subject", class: "subject" }, link),
    el("td", { "data-label": "Client IP" }, message.client_ip),
    el("td", { "data-label": "Reason", class: "reason" }, message.reason || "—"),
  );
}

function showError(results: HTMLElement, text: string): void {
  results.setAttribute("aria-busy", "false");
  replace(results, el("p", { class: "error", role: "alert", id: "search-error" }, text));
}
