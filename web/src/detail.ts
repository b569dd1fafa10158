// One message: what happened (disposition, score, reply), the envelope, the score breakdown check
// by check, delivery, header fields, and the stored source (shown as text, or downloaded).
import * as api from "./api";
import { el, replace, type Child } from "./dom";
import { dispositionLabel, formatScore, formatSize, formatTime, isoTime } from "./format";
import type { App } from "./main";
import { messageActions } from "./actions";

function facts(rows: [string, Child][]): HTMLElement {
  return el(
    "dl",
    { class: "facts" },
    rows.map(([term, value]) => [el("dt", null, term), el("dd", null, value === "" || value === null || value === undefined ? "—" : value)]),
  );
}

function list(items: string[]): Child {
  if (items.length === 0) return "—";
  return el("ul", { class: "plain" }, items.map((item) => el("li", null, item)));
}

export async function detailPage(app: App, main: HTMLElement, id: string): Promise<void> {
  document.title = `Message ${id} · gatehouse`;
  const back = el("p", { class: "back" }, el("a", { href: "/messages", "data-link": true }, "← Message log"));
  replace(main, back, el("p", { class: "loading" }, "Loading…"));
  let m: api.MessageDetail;
  try {
    m = await api.message(id);
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 401) return;
    const text = error instanceof api.ApiError && error.status === 404 ? `There is no message with the ID ${id} (or it is not in your domains).` : (error as Error).message;
    replace(main, back, el("h1", null, "Message"), el("p", { class: "error", role: "alert", id: "detail-error" }, text));
    return;
  }
  void app;
  document.title = `${m.subject || "(no subject)"} · gatehouse`;

  const total = m.checks.reduce((sum, c) => sum + c.score, 0);
  const breakdown =
    m.checks.length === 0
      ? el("p", { class: "muted", id: "no-checks" }, "No check contributed to this message's score.")
      : el(
          "table",
          { class: "checks", id: "score-breakdown" },
          el("caption", { class: "visually-hidden" }, "Score breakdown"),
          el("thead", null, el("tr", null, el("th", { scope: "col" }, "Check"), el("th", { scope: "col", class: "number" }, "Score"), el("th", { scope: "col" }, "Details"))),
          el(
            "tbody",
            null,
            m.checks.map((c) =>
              el(
                "tr",
                { class: c.score > 0 ? "positive" : c.score < 0 ? "negative" : "" },
                el("td", { "data-label": "Check", class: "check-name" }, c.name),
                el("td", { "data-label": "Score", class: "number" }, formatScore(c.score)),
                el("td", { "data-label": "Details", class: "detail" }, c.detail || "—"),
              ),
            ),
          ),
          el("tfoot", null, el("tr", null, el("th", { scope: "row" }, "Total"), el("td", { class: "number" }, formatScore(total)), el("td", null, m.reason ? `Outcome: ${m.reason}` : ""))),
        );

  const rawSection = el("section", { class: "card", "aria-labelledby": "raw-title" }, el("h2", { id: "raw-title" }, "Source"));
  if (m.has_message) {
    const pre = el("pre", { class: "raw", id: "raw-source", tabindex: "0", hidden: true });
    const show = el("button", { type: "button", id: "show-raw", "aria-controls": "raw-source", "aria-expanded": "false" }, "Show the source");
    const status = el("p", { class: "error", role: "alert", hidden: true });
    show.addEventListener("click", async () => {
      if (!pre.hidden) {
        pre.hidden = true;
        show.textContent = "Show the source";
        show.setAttribute("aria-expanded", "false");
        return;
      }
      show.disabled = true;
      try {
        if (!pre.textContent) pre.textContent = await api.rawSource(m.raw_url);
        pre.hidden = false;
        status.hidden = true;
        show.textContent = "Hide the source";
        show.setAttribute("aria-expanded", "true");
      } catch (error) {
        status.textContent = (error as Error).message;
        status.hidden = false;
      }
      show.disabled = false;
    });
    rawSection.append(
      el("div", { class: "actions" }, show, el("a", { href: m.raw_url, download: `${m.id}.eml`, class: "button", id: "download-raw" }, "Download (.eml)")),
      status,
      pre,
    );
  } else {
    rawSection.append(el("p", { class: "muted" }, "No copy of this message is stored (it ended before DATA, or its retention has passed)."));
  }

  // The delivery facts, shown again after a release or resend (actions.ts) has changed them.
  const deliveryFacts = (d: api.MessageDetail) =>
    facts([
      ["State", d.delivery_status || "not delivered"],
      ["Attempts", String(d.delivery_attempts)],
      ["Back-end", d.backend],
      ["Details", d.delivery_detail],
      ["Reason", d.reason],
    ]);
  const deliverySection = el(
    "section",
    { class: "card", "aria-labelledby": "delivery-title", id: "delivery" },
    el("h2", { id: "delivery-title" }, "Delivery"),
    deliveryFacts(m),
  );
  const refreshDelivery = async () => {
    try {
      const fresh = await api.message(m.id);
      replace(deliverySection, el("h2", { id: "delivery-title" }, "Delivery"), deliveryFacts(fresh));
    } catch {
      /* the page still shows the outcome of the action */
    }
  };

  const hidden = m.hidden_recipients ? ` (and ${m.hidden_recipients} of other domains)` : "";
  replace(
    main,
    back,
    el("h1", { class: "subject-title", id: "message-subject" }, m.subject || "(no subject)"),
    el(
      "p",
      { class: "summary" },
      el("span", { class: `badge ${m.disposition}`, id: "message-disposition" }, dispositionLabel(m.disposition)),
      " score ",
      el("strong", { id: "message-score" }, formatScore(m.score)),
      " · ",
      el("time", { datetime: isoTime(m.time) }, formatTime(m.time)),
      " · ID ",
      el("code", { id: "message-id" }, m.id),
    ),
    m.reply ? el("p", { class: "reply" }, "Reply to the client: ", el("code", null, m.reply)) : null,
    el(
      "div",
      { class: "grid" },
      el(
        "section",
        { class: "card", "aria-labelledby": "envelope-title" },
        el("h2", { id: "envelope-title" }, "Envelope"),
        facts([
          ["Client", `${m.client_ip}${m.client_ptr ? ` (${m.client_ptr})` : ""}`],
          ["HELO", m.helo],
          ["TLS", m.tls || "no"],
          ["MAIL FROM", m.mail_from || "<>"],
          ["Recipients" + hidden, list(m.recipients)],
          ["Refused recipients", list(m.rejected_recipients)],
          ["Header From", m.header_from],
          ["Message-ID", m.message_id],
          ["Size", formatSize(m.size)],
          ["Domain", m.domain],
          ["Direction", m.direction],
        ]),
      ),
      deliverySection,
    ),
    messageActions(m, refreshDelivery),
    el("section", { class: "card", "aria-labelledby": "checks-title" }, el("h2", { id: "checks-title" }, "Score breakdown"), breakdown),
    el(
      "section",
      { class: "card", "aria-labelledby": "headers-title" },
      el("h2", { id: "headers-title" }, "Header fields"),
      m.headers.length === 0
        ? el("p", { class: "muted" }, "No stored header fields.")
        : el(
            "details",
            null,
            el("summary", null, `${m.headers.length} header fields`),
            el("dl", { class: "headers" }, m.headers.map((h) => [el("dt", null, h.name), el("dd", null, h.value)])),
          ),
    ),
    rawSection,
  );
}
