// The Domains page (/domains) and one domain's page (/domains/NAME): where each domain's mail goes,
// how its recipients are checked, its thresholds, greylisting and reject text, and its e-mail
// addresses with CSV import and export. A change applies to the next message at once.
import { ApiError } from "./api";
import * as policy from "./api_policy";
import { el, replace } from "./dom";
import type { App } from "./main";

export function field(label: string, control: HTMLElement, help?: string): HTMLElement {
  const helpId = help ? `${control.id}-help` : null;
  if (helpId) control.setAttribute("aria-describedby", helpId);
  return el("div", { class: "field" }, el("label", { for: control.id }, label), control, help ? el("small", { id: helpId!, class: "muted" }, help) : null);
}

// A status line under a form: its text replaced on each outcome (role=status / alert).
export function statusLine(id: string): { node: HTMLElement; ok(text: string): void; fail(error: unknown): void; clear(): void } {
  const node = el("p", { id, hidden: true });
  return {
    node,
    ok(text) {
      node.className = "notice";
      node.setAttribute("role", "status");
      node.textContent = text;
      node.hidden = false;
    },
    fail(error) {
      node.className = "error";
      node.setAttribute("role", "alert");
      node.textContent = error instanceof Error ? error.message : String(error);
      node.hidden = false;
    },
    clear() {
      node.hidden = true;
    },
  };
}

const recipientModes: [policy.Domain["recipients"], string][] = [
  ["list", "Address list: reject unknown addresses (the list below)"],
  ["backend", "Ask the back-end live: it rejects unknown addresses"],
  ["any", "Accept any address (do not reject unknown addresses)"],
];

const sourceText: Record<string, string> = {
  file: "configuration file",
  web: "added here",
  "file+web": "configuration file, changed here",
};

function greylistingText(value: boolean | null): string {
  return value === null ? "as configured" : value ? "on" : "off";
}

export async function domainsPage(app: App, main: HTMLElement): Promise<void> {
  document.title = "Domains · gatehouse";
  replace(main, el("h1", null, "Domains"), el("p", { class: "loading" }, "Loading…"));
  let list: policy.Domain[];
  try {
    list = await policy.domains();
  } catch (error) {
    replace(main, el("h1", null, "Domains"), el("p", { class: "error", role: "alert" }, (error as Error).message));
    return;
  }
  const admin = app.session?.role === "admin";
  const table = list.length
    ? el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          { class: "domains" },
          el("thead", null, el("tr", null, ["Domain", "Back-end", "Recipients", "Tag at", "Reject at", "Greylisting", "Addresses", "Defined in"].map((h) => el("th", { scope: "col" }, h)))),
          el(
            "tbody",
            null,
            list.map((d) =>
              el(
                "tr",
                null,
                el("td", null, el("a", { href: `/domains/${encodeURIComponent(d.name)}`, "data-link": true }, d.name)),
                el("td", { class: "address" }, d.backend),
                el("td", null, d.recipients),
                el("td", { class: "number" }, d.tag_threshold),
                el("td", { class: "number" }, d.reject_threshold),
                el("td", null, greylistingText(d.greylisting)),
                el("td", { class: "number" }, d.addresses),
                el("td", null, sourceText[d.source] ?? d.source),
              ),
            ),
          ),
        ),
      )
    : el("div", { class: "empty" }, el("p", null, "No domains yet."), admin ? el("p", null, "Add the first domain you receive mail for below.") : el("p", null, "Ask an administrator to give you a domain."));

  replace(main, el("h1", null, "Domains"), table, admin ? addDomainForm(app) : null);
}

function addDomainForm(app: App): HTMLElement {
  const name = el("input", { id: "new-domain-name", required: true, placeholder: "example.org", autocomplete: "off", spellcheck: "false" });
  const backend = el("input", { id: "new-domain-backend", required: true, placeholder: "smtp:10.0.0.5:25", autocomplete: "off", spellcheck: "false" });
  const recipients = el("select", { id: "new-domain-recipients" }, recipientModes.map(([value, label]) => el("option", { value }, label)));
  const status = statusLine("new-domain-status");
  const form = el(
    "form",
    { class: "card", "aria-labelledby": "add-domain-title" },
    el("h2", { id: "add-domain-title" }, "Add a domain"),
    el("div", { class: "fields" }, field("Domain", name), field("Back-end", backend, "smtp:HOST:PORT, lmtp:HOST:PORT, lmtp:/path/socket"), field("Recipients", recipients)),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Add domain")),
    status.node,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.clear();
    try {
      await policy.addDomain({ name: name.value.trim(), backend: backend.value.trim(), recipients: recipients.value as policy.Domain["recipients"] });
      app.navigate(`/domains/${encodeURIComponent(name.value.trim().toLowerCase())}`);
    } catch (error) {
      status.fail(error);
    }
  });
  return form;
}

export async function domainPage(app: App, main: HTMLElement, name: string): Promise<void> {
  document.title = `${name} · Domains · gatehouse`;
  replace(main, el("h1", null, name), el("p", { class: "loading" }, "Loading…"));
  let domain: policy.Domain | undefined;
  try {
    domain = (await policy.domains()).find((d) => d.name === name.toLowerCase());
  } catch (error) {
    replace(main, el("h1", null, name), el("p", { class: "error", role: "alert" }, (error as Error).message));
    return;
  }
  const back = el("p", { class: "back" }, el("a", { href: "/domains", "data-link": true }, "← Domains"));
  if (!domain) {
    replace(main, back, el("h1", null, name), el("p", { class: "empty" }, "There is no such domain, or it is not one of yours."));
    return;
  }
  replace(main, back, el("h1", null, domain.name), el("p", { class: "muted" }, `Defined in: ${sourceText[domain.source] ?? domain.source}.`), settingsForm(app, domain), addressesCard(domain));
}

function settingsForm(app: App, domain: policy.Domain): HTMLElement {
  const admin = app.session?.role === "admin";
  const backend = el("input", { id: "domain-backend", value: domain.backend, readonly: !admin, autocomplete: "off", spellcheck: "false" });
  const recipients = el("select", { id: "domain-recipients" }, recipientModes.map(([value, label]) => el("option", { value, selected: value === domain.recipients }, label)));
  const tag = el("input", { id: "domain-tag", type: "number", step: "0.1", value: domain.tag_threshold, required: true });
  const reject = el("input", { id: "domain-reject", type: "number", step: "0.1", value: domain.reject_threshold, required: true });
  const greylisting = el(
    "select",
    { id: "domain-greylisting" },
    el("option", { value: "", selected: domain.greylisting === null }, "As configured ([greylisting] enabled)"),
    el("option", { value: "on", selected: domain.greylisting === true }, "On"),
    el("option", { value: "off", selected: domain.greylisting === false }, "Off"),
  );
  const rejectText = el("input", { id: "domain-reject-text", value: domain.reject_text, placeholder: domain.reject_text_in_force, maxlength: 400, autocomplete: "off" });
  const status = statusLine("domain-status");
  const remove =
    admin && domain.source !== "file"
      ? el("button", { type: "button", id: "domain-remove" }, domain.source === "web" ? "Remove domain" : "Undo the changes made here")
      : null;
  const form = el(
    "form",
    { class: "card", "aria-labelledby": "domain-settings-title" },
    el("h2", { id: "domain-settings-title" }, "Settings"),
    el(
      "div",
      { class: "fields" },
      field("Back-end", backend, admin ? "Where accepted mail goes" : "Only administrators change it"),
      field("Recipients", recipients),
      field("Tag at score", tag, "[SPAM?] in the subject, still delivered"),
      field("Reject at score", reject, "Refused during SMTP: the sender is told"),
      field("Greylisting", greylisting),
      field("Reject text", rejectText, "Empty: the default. {id}, {reason} and {contact} are filled in"),
    ),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: "domain-save" }, "Save"), remove),
    status.node,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.clear();
    const change: policy.DomainChange = {
      recipients: recipients.value as policy.Domain["recipients"],
      tag_threshold: Number(tag.value),
      reject_threshold: Number(reject.value),
      greylisting: greylisting.value === "" ? null : greylisting.value === "on",
      reject_text: rejectText.value.trim(),
    };
    if (admin) change.backend = backend.value.trim();
    if (tag.value === "" || reject.value === "" || Number.isNaN(change.tag_threshold!) || Number.isNaN(change.reject_threshold!)) {
      status.fail(new Error("Enter both thresholds as numbers."));
      return;
    }
    try {
      await policy.changeDomain(domain.name, change);
      status.ok("Saved. The next message is judged with these settings.");
    } catch (error) {
      status.fail(error);
    }
  });
  remove?.addEventListener("click", async () => {
    const question = domain.source === "web" ? `Remove ${domain.name}? Mail for it will be refused as relaying.` : `Go back to the configuration file's settings for ${domain.name}?`;
    if (!confirm(question)) return;
    try {
      await policy.removeDomain(domain.name);
      app.navigate("/domains");
    } catch (error) {
      status.fail(error);
    }
  });
  return form;
}

function addressesCard(domain: policy.Domain): HTMLElement {
  const body = el("div", null, el("p", { class: "loading" }, "Loading…"));
  const status = statusLine("address-status");
  const input = el("input", { id: "address-new", type: "email", placeholder: `alice@${domain.name}`, autocomplete: "off", spellcheck: "false" });
  const addForm = el("form", { class: "inline-form" }, field("Add an address", input), el("button", { type: "submit" }, "Add"));
  const file = el("input", { id: "address-file", type: "file", accept: ".csv,text/csv,text/plain" });
  const importButton = el("button", { type: "button", id: "address-import" }, "Import CSV");
  const filter = el("input", { id: "address-filter", type: "search", placeholder: "Filter", autocomplete: "off" });

  let rows: policy.AddressRow[] = [];
  const draw = () => {
    const wanted = filter.value.trim().toLowerCase();
    const shown = rows.filter((r) => !wanted || r.address.includes(wanted));
    if (!rows.length) {
      replace(body, el("p", { class: "empty" }, domain.recipients === "list" ? "No addresses yet: every recipient of this domain is refused until you add some." : "No addresses (not needed: recipients are checked another way)."));
      return;
    }
    replace(
      body,
      el("p", { class: "count" }, `${rows.length} address${rows.length === 1 ? "" : "es"}${wanted ? `, ${shown.length} shown` : ""}`),
      el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          { class: "addresses" },
          el("thead", null, el("tr", null, el("th", { scope: "col" }, "Address"), el("th", { scope: "col" }, "Defined in"), el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Actions")))),
          el(
            "tbody",
            null,
            shown.slice(0, 1000).map((r) => {
              const button = r.source === "web" ? el("button", { type: "button", class: "link-button", "aria-label": `Remove ${r.address}` }, "Remove") : null;
              button?.addEventListener("click", async () => {
                try {
                  await policy.removeAddress(r.address);
                  status.ok(`${r.address} removed.`);
                  await load();
                } catch (error) {
                  status.fail(error);
                }
              });
              return el("tr", null, el("td", { class: "address" }, r.address), el("td", null, r.source === "file" ? "configuration file" : "added here"), el("td", null, button));
            }),
          ),
        ),
      ),
    );
  };
  const load = async () => {
    try {
      rows = await policy.addresses(domain.name);
      draw();
    } catch (error) {
      replace(body, el("p", { class: "error", role: "alert" }, (error as Error).message));
    }
  };
  filter.addEventListener("input", draw);
  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.clear();
    try {
      const result = await policy.addAddress(domain.name, input.value.trim());
      status.ok(result.added ? `${input.value.trim().toLowerCase()} added.` : `${input.value.trim().toLowerCase()} was there already.`);
      input.value = "";
      await load();
    } catch (error) {
      status.fail(error);
    }
  });
  importButton.addEventListener("click", async () => {
    status.clear();
    const chosen = file.files?.[0];
    if (!chosen) {
      status.fail(new Error("Choose a CSV file first: one address per line (the first column), a header line 'address' is allowed."));
      return;
    }
    importButton.disabled = true;
    importButton.textContent = "Importing…";
    try {
      const result = await policy.importAddresses(domain.name, await chosen.text());
      const refused = result.refused.map((r) => `line ${r.line} (${r.text}): ${r.error}`).join("; ");
      const text = `${result.added} added, ${result.present} there already${result.refused.length ? `, ${result.refused.length} refused: ${refused}` : ""}.`;
      if (result.refused.length) status.fail(new Error(text));
      else status.ok(text);
      await load();
    } catch (error) {
      status.fail(error instanceof ApiError ? error : new Error(String(error)));
    } finally {
      importButton.disabled = false;
      importButton.textContent = "Import CSV";
    }
  });
  void load();
  return el(
    "section",
    { class: "card", "aria-labelledby": "addresses-title" },
    el("h2", { id: "addresses-title" }, "E-mail addresses"),
    el("div", { class: "actions" }, addForm, el("div", { class: "field" }, el("label", { for: "address-file" }, "CSV file"), file), importButton, el("a", { class: "button", href: policy.addressesCsvUrl(domain.name), download: `${domain.name}-addresses.csv`, id: "address-export" }, "Export CSV")),
    status.node,
    field("Filter", filter),
    body,
  );
}
