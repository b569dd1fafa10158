// The dashboard, the first page after logging in: messages per hour by disposition (24 h, 7 d;
// 6-hour bars for 30 d) as a stacked bar chart, the totals, the top reasons, client IPs and sender
// domains (each a link to the message log filtered by it), the delivery queue and the back-ends.
//
// The chart is a small SVG drawn here rather than a chart library: stacked bars are a few
// rectangles, every label goes in as text (hostile reasons stay text), nothing inline that the
// page's Content-Security-Policy (style-src 'self') would block, and no dependency to keep.
//
// Live: it polls GET /api/v1/stats every 5 seconds (a plain GET, which the API's session and
// caching rules already cover; a server-sent events stream would hold a connection per tab for
// figures that change by the minute). Each section is rebuilt only when its data changed, off the
// page and then swapped in at once, so nothing flickers and focus stays put; polling stops while
// the tab is hidden and resumes at once when it is shown again.
import "./dashboard.css";
import * as api from "./api";
import { el, replace, type Child } from "./dom";
import { dispositionLabel, formatTime, isoTime, toLocalInput } from "./format";
import type { App } from "./main";
import { fetchStats, ranges, type Range, type ReasonCount, type Stats } from "./stats";

const pollMilliseconds = 5000;
// Stacking order, bottom up; any other disposition goes on top as it is.
const stackOrder = ["accept", "tag", "tempfail", "reject"];
const svgNs = "http://www.w3.org/2000/svg";

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>, ...children: (SVGElement | null)[]): SVGElementTagNameMap[K] {
  const node = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  for (const child of children) if (child) node.appendChild(child);
  return node;
}

function svgTitle(text: string): SVGTitleElement {
  const title = document.createElementNS(svgNs, "title");
  title.textContent = text;
  return title;
}

const number = new Intl.NumberFormat();
const hourLabel = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayLabel = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric" });
const dateLabel = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

function rangeLabel(range: Range): string {
  return ranges.find((r) => r.value === range)?.label ?? range;
}

function dispositionsOf(stats: Stats): string[] {
  const seen = new Set<string>(Object.keys(stats.totals).filter((d) => d !== "all" && stats.totals[d] > 0));
  for (const bucket of stats.buckets) for (const d of Object.keys(bucket.counts)) seen.add(d);
  return [...stackOrder.filter((d) => seen.has(d)), ...[...seen].filter((d) => !stackOrder.includes(d)).sort()];
}

function colourClass(disposition: string): string {
  return stackOrder.includes(disposition) ? `fill-${disposition}` : "fill-other";
}

// A link to the message log filtered by `params`, from `from` on (local time, as the log's form takes it).
function logLink(params: Record<string, string>, from: number, text: Child, id?: string): HTMLAnchorElement {
  const query = new URLSearchParams(params);
  query.set("from", toLocalInput(from));
  return el("a", { href: `/messages?${query.toString()}`, "data-link": true, ...(id ? { id } : {}) }, text);
}

function bucketText(stats: Stats, index: number): string {
  const bucket = stats.buckets[index];
  const end = bucket.start + stats.bucket_seconds * 1000;
  const lines = [`${formatTime(bucket.start)} – ${hourLabel.format(new Date(end))}`];
  for (const d of dispositionsOf(stats)) if (bucket.counts[d]) lines.push(`${dispositionLabel(d)}: ${number.format(bucket.counts[d])}`);
  for (const r of bucket.reasons) lines.push(`  ${dispositionLabel(r.disposition)} — ${r.reason || "no reason given"}: ${number.format(r.count)}`);
  if (lines.length === 1) lines.push("No messages");
  return lines.join("\n");
}

// A round upper bound for the y axis.
function niceMax(value: number): number {
  if (value <= 4) return 4;
  const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function xLabels(stats: Stats): { index: number; text: string }[] {
  const out: { index: number; text: string }[] = [];
  stats.buckets.forEach((bucket, index) => {
    const date = new Date(bucket.start);
    if (stats.range === "24h") {
      if (date.getHours() % 3 === 0) out.push({ index, text: hourLabel.format(date) });
    } else if (stats.range === "7d") {
      if (date.getHours() === 0) out.push({ index, text: dayLabel.format(date) });
    } else if (date.getHours() < 6 && date.getDate() % 5 === 1 && (out.length === 0 || index - out[out.length - 1].index >= 12)) {
      out.push({ index, text: dateLabel.format(date) });   // not the 1st right after the 31st
    }
  });
  return out;
}

function chart(stats: Stats): HTMLElement {
  const all = stats.totals.all ?? 0;
  const title = el("h2", { id: "chart-title" }, stats.bucket_seconds === 3600 ? "Messages per hour" : `Messages per ${stats.bucket_seconds / 3600} hours`);
  if (all === 0) {
    return el(
      "section",
      { class: "card chart-card", "aria-labelledby": "chart-title" },
      title,
      el(
        "div",
        { class: "empty", id: "dashboard-empty" },
        el("h3", null, `No messages in the last ${rangeLabel(stats.range)}`),
        el("p", null, "The figures appear here as soon as gatehouse has handled an SMTP transaction: accepted, tagged, rejected or deferred."),
      ),
    );
  }
  const dispositions = dispositionsOf(stats);
  const width = 1000;
  const height = 240;
  const top = niceMax(Math.max(1, ...stats.buckets.map((b) => Object.values(b.counts).reduce((a, c) => a + c, 0))));
  const slot = width / stats.buckets.length;
  const gap = stats.buckets.length > 60 ? 0.15 : 0.25;
  const picture = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", class: "bars", role: "img", "aria-labelledby": "chart-title chart-summary" });
  for (const fraction of [0.5, 1]) picture.appendChild(svg("line", { x1: 0, x2: width, y1: height - fraction * height, y2: height - fraction * height, class: "grid-line" }));
  stats.buckets.forEach((bucket, index) => {
    let y = height;
    const group = svg("g", { class: "bar", "data-start": bucket.start }, svgTitle(bucketText(stats, index)));
    // A transparent full-height target, so the hour's tooltip shows over an empty or low bar too.
    group.appendChild(svg("rect", { x: index * slot, y: 0, width: slot, height, class: "hit" }));
    for (const d of dispositions) {
      const count = bucket.counts[d] ?? 0;
      if (!count) continue;
      const h = (count / top) * height;
      y -= h;
      group.appendChild(svg("rect", { x: index * slot + (slot * gap) / 2, y, width: slot * (1 - gap), height: h, class: colourClass(d) }));
    }
    picture.appendChild(group);
  });
  const axis = el("div", { class: "x-axis", "aria-hidden": "true" });
  xLabels(stats).forEach((label, n) => {
    // Every other label is left out at phone width (dashboard.css), where they would collide.
    const tick = el("span", n % 2 ? { class: "minor" } : null, label.text);
    tick.style.left = `${((label.index + 0.5) / stats.buckets.length) * 100}%`;   // CSSOM, allowed by the page's CSP
    axis.appendChild(tick);
  });
  const legend = el(
    "ul",
    { class: "legend", id: "chart-legend" },
    dispositions.map((d) => el("li", null, el("span", { class: `swatch ${colourClass(d)}` }), `${dispositionLabel(d)} `, el("strong", null, number.format(stats.totals[d] ?? 0)))),
  );
  // The same figures as a table, for keyboards and screen readers (the bars' tooltips need a mouse).
  const rows = stats.buckets
    .map((bucket, index) => ({ bucket, index }))
    .filter(({ bucket }) => Object.values(bucket.counts).some((c) => c > 0))
    .reverse();
  const table = el(
    "details",
    { class: "chart-table" },
    el("summary", null, "Show the figures as a table"),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        { id: "bucket-table" },
        el("thead", null, el("tr", null, el("th", { scope: "col" }, "From"), dispositions.map((d) => el("th", { scope: "col", class: "number" }, dispositionLabel(d))), el("th", { scope: "col" }, "Reasons"))),
        el(
          "tbody",
          null,
          rows.map(({ bucket }) =>
            el(
              "tr",
              null,
              el("td", null, el("time", { datetime: isoTime(bucket.start) }, formatTime(bucket.start))),
              dispositions.map((d) => el("td", { class: "number" }, number.format(bucket.counts[d] ?? 0))),
              el("td", { class: "reason" }, bucket.reasons.map((r) => `${r.reason || dispositionLabel(r.disposition)}: ${r.count}`).join("; ") || "—"),
            ),
          ),
        ),
      ),
    ),
  );
  return el(
    "section",
    { class: "card chart-card", "aria-labelledby": "chart-title" },
    title,
    el("p", { class: "visually-hidden", id: "chart-summary" }, `${number.format(all)} messages in the last ${rangeLabel(stats.range)}, stacked by disposition.`),
    legend,
    el("div", { class: "plot" }, el("div", { class: "y-axis", "aria-hidden": "true" }, el("span", null, number.format(top)), el("span", null, number.format(top / 2)), el("span", null, "0")), el("div", { class: "plot-area" }, picture, axis)),
    table,
  );
}

function summary(stats: Stats): HTMLElement {
  const figure = (id: string, label: string, value: string, extra = "") =>
    el("div", { class: `figure ${extra}` }, el("span", { class: "figure-label" }, label), el("strong", { id, class: "figure-value" }, value));
  const t = (d: string) => number.format(stats.totals[d] ?? 0);
  return el(
    "section",
    { class: "figures", "aria-label": "Totals" },
    figure("stat-all", `Messages, ${rangeLabel(stats.range)}`, t("all")),
    figure("stat-accept", "Accepted", t("accept"), "accept"),
    figure("stat-tag", "Tagged", t("tag"), "tag"),
    figure("stat-reject", "Rejected", t("reject"), "reject"),
    figure("stat-tempfail", "Deferred (4xx)", t("tempfail"), "tempfail"),
    stats.queue ? figure("stat-queue", "Delivery queue", number.format(stats.queue.size)) : null,
  );
}

function emptyRow(columns: number, text: string): HTMLElement {
  return el("tr", { class: "none" }, el("td", { colspan: columns, class: "muted" }, text));
}

function reasonsCard(stats: Stats): HTMLElement {
  const row = (r: ReasonCount, i: number) =>
    el(
      "tr",
      null,
      el("td", { class: "reason" }, logLink(r.reason ? { reason: r.reason, disposition: r.disposition } : { disposition: r.disposition }, stats.from, r.reason || "(no reason given)", `reason-link-${i}`)),
      el("td", null, el("span", { class: `badge ${r.disposition}` }, dispositionLabel(r.disposition))),
      el("td", { class: "number" }, number.format(r.count)),
    );
  return el(
    "section",
    { class: "card", "aria-labelledby": "reasons-title" },
    el("h2", { id: "reasons-title" }, "Top reasons for refusing"),
    el(
      "table",
      { id: "top-reasons", class: "toplist" },
      el("thead", null, el("tr", null, el("th", { scope: "col" }, "Reason"), el("th", { scope: "col" }, "Outcome"), el("th", { scope: "col", class: "number" }, "Messages"))),
      el("tbody", null, stats.top_reasons.length ? stats.top_reasons.map(row) : emptyRow(3, "Nothing refused or deferred in this period.")),
    ),
  );
}

function topCard(stats: Stats, kind: "ips" | "domains"): HTMLElement {
  const entries = kind === "ips" ? stats.top_ips.map((e) => ({ key: e.ip, total: e.total, rejected: e.rejected })) : stats.top_sender_domains.map((e) => ({ key: e.domain, total: e.total, rejected: e.rejected }));
  const worst = kind === "ips" ? stats.top_rejected_ips.map((e) => ({ key: e.ip, total: e.total, rejected: e.rejected })) : stats.top_rejected_sender_domains.map((e) => ({ key: e.domain, total: e.total, rejected: e.rejected }));
  const title = kind === "ips" ? "Top client IPs" : "Top sender domains";
  const link = (key: string, i: number, list: string) =>
    logLink(kind === "ips" ? { client_ip: key } : { sender: `@${key}` }, stats.top_since, key, `${kind}-${list}-${i}`);
  const table = (id: string, caption: string, rows: typeof entries, list: string) =>
    el(
      "table",
      { id, class: "toplist" },
      el("caption", null, caption),
      el("thead", null, el("tr", null, el("th", { scope: "col" }, kind === "ips" ? "IP" : "Domain"), el("th", { scope: "col", class: "number" }, "All"), el("th", { scope: "col", class: "number" }, "Rejected"))),
      el(
        "tbody",
        null,
        rows.length
          ? rows.map((e, i) => el("tr", null, el("td", { class: "address" }, link(e.key, i, list)), el("td", { class: "number" }, number.format(e.total)), el("td", { class: "number" }, number.format(e.rejected))))
          : emptyRow(3, "None in this period."),
      ),
    );
  const since = stats.top_since < stats.from ? el("p", { class: "muted small" }, `Counted in whole days (UTC), since ${formatTime(stats.top_since)}.`) : null;
  return el(
    "section",
    { class: "card", "aria-labelledby": `${kind}-title` },
    el("h2", { id: `${kind}-title` }, title),
    since,
    el("div", { class: "top-pair" }, table(`top-${kind}`, "Most messages", entries, "all"), table(`top-rejected-${kind}`, "Most rejected", worst, "rejected")),
  );
}

const stateText: Record<string, string> = { up: "Reachable", down: "Unreachable", unknown: "Not tried yet", local: "Local delivery" };

function systemCard(stats: Stats): HTMLElement {
  return el(
    "section",
    { class: "card", "aria-labelledby": "backends-title" },
    el("h2", { id: "backends-title" }, "Back-ends"),
    stats.queue ? el("p", null, "Messages waiting in the delivery queue: ", el("strong", { id: "queue-size" }, number.format(stats.queue.size))) : null,
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        { id: "backends", class: "toplist" },
        el("thead", null, el("tr", null, ["Back-end", "Domains", "State", "Failures", "Last failure seen"].map((h) => el("th", { scope: "col" }, h)))),
        el(
          "tbody",
          null,
          stats.backends.length
            ? stats.backends.map((b) =>
                el(
                  "tr",
                  { "data-backend": b.backend },
                  el("td", { class: "address", "data-label": "Back-end" }, b.backend),
                  el("td", { "data-label": "Domains" }, b.domains.join(", ")),
                  el("td", { "data-label": "State" }, el("span", { class: `state ${b.state}` }, stateText[b.state] ?? b.state)),
                  el("td", { class: "number", "data-label": "Failures" }, number.format(b.failures)),
                  el("td", { "data-label": "Last failure seen" }, b.last_failure_seen ? formatTime(b.last_failure_seen) : b.failures ? "before this page looked" : "—"),
                ),
              )
            : emptyRow(5, "No domains with a back-end are configured."),
        ),
      ),
    ),
  );
}

function currentRange(): Range {
  const value = new URLSearchParams(location.search).get("range");
  return ranges.some((r) => r.value === value) ? (value as Range) : "24h";
}

export async function dashboardPage(app: App, main: HTMLElement): Promise<void> {
  document.title = "Dashboard · gatehouse";
  let range = currentRange();
  const status = el("p", { class: "muted live-status", id: "live-status" }, "Loading…");
  const buttons = ranges.map((r) => el("button", { type: "button", id: `range-${r.value}`, "aria-pressed": r.value === range ? "true" : "false" }, r.label));
  const error = el("div", { id: "dashboard-error" });
  // Sections, each rebuilt only when its own data changed.
  const sections = {
    summary: el("div", { id: "dash-summary" }),
    chart: el("div", { id: "dash-chart" }, el("p", { class: "loading" }, "Loading the figures…")),
    reasons: el("div", { id: "dash-reasons" }),
    ips: el("div", { id: "dash-ips" }),
    domains: el("div", { id: "dash-domains" }),
    system: el("div", { id: "dash-system" }),
  };
  const scope = app.session && app.session.role !== "admin" ? el("p", { class: "muted" }, `Figures for your domains: ${app.session.domains.join(", ") || "none"}.`) : null;
  replace(
    main,
    el("div", { class: "dash-head" }, el("h1", null, "Dashboard"), el("div", { class: "range", role: "group", "aria-label": "Period" }, buttons), status),
    scope,
    error,
    sections.summary,
    sections.chart,
    el("div", { class: "dash-grid" }, sections.reasons, sections.system, sections.ips, sections.domains),
  );

  const shown = new Map<HTMLElement, string>();
  const update = (target: HTMLElement, data: unknown, build: () => HTMLElement) => {
    const key = JSON.stringify(data);
    if (shown.get(target) === key) return;
    shown.set(target, key);
    replace(target, build());
  };

  let timer: number | undefined;
  let inFlight = 0;
  const stop = () => {
    if (timer !== undefined) window.clearTimeout(timer);
    timer = undefined;
    document.removeEventListener("visibilitychange", onVisibility);
  };
  const schedule = () => {
    if (timer !== undefined) window.clearTimeout(timer);
    timer = document.hidden ? undefined : window.setTimeout(() => void refresh(), pollMilliseconds);
  };
  const refresh = async () => {
    if (!main.isConnected) return stop();
    if (document.hidden) {
      status.textContent = "Paused while this tab is hidden.";
      return;
    }
    const mine = ++inFlight;
    const wanted = range;
    let stats: Stats;
    try {
      stats = await fetchStats(wanted);
    } catch (failure) {
      if (!main.isConnected) return stop();
      if (failure instanceof api.ApiError && failure.status === 401) return stop();
      replace(error, el("p", { class: "error", role: "alert" }, `Cannot update the figures: ${(failure as Error).message} Trying again…`));
      schedule();
      return;
    }
    if (!main.isConnected) return stop();
    if (mine !== inFlight || wanted !== range) return;   // a newer request (another period) is under way
    replace(error);
    update(sections.summary, [stats.range, stats.totals, stats.queue], () => summary(stats));
    update(sections.chart, [stats.range, stats.from, stats.buckets, stats.totals], () => chart(stats));
    update(sections.reasons, [stats.from, stats.top_reasons], () => reasonsCard(stats));
    update(sections.ips, [stats.top_since, stats.top_ips, stats.top_rejected_ips], () => topCard(stats, "ips"));
    update(sections.domains, [stats.top_since, stats.top_sender_domains, stats.top_rejected_sender_domains], () => topCard(stats, "domains"));
    update(sections.system, [stats.queue, stats.backends.map((b) => ({ ...b }))], () => systemCard(stats));
    status.textContent = `Live: updated ${hourLabel.format(new Date(stats.generated))}, every ${pollMilliseconds / 1000} s.`;
    main.dataset.loadedRange = stats.range;   // for tests: the figures on screen are of this period
    schedule();
  };
  const onVisibility = () => {
    if (!main.isConnected) return stop();
    if (document.hidden) {
      if (timer !== undefined) window.clearTimeout(timer);
      timer = undefined;
      status.textContent = "Paused while this tab is hidden.";
    } else void refresh();
  };
  document.addEventListener("visibilitychange", onVisibility);

  buttons.forEach((button, i) =>
    button.addEventListener("click", () => {
      const next = ranges[i].value;
      if (next === range) return;
      range = next;
      buttons.forEach((b, j) => b.setAttribute("aria-pressed", j === i ? "true" : "false"));
      history.replaceState(null, "", next === "24h" ? "/dashboard" : `/dashboard?range=${next}`);
      status.textContent = `Loading ${rangeLabel(next)}…`;
      void refresh();
    }),
  );
  await refresh();
}
