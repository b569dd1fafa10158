// The Settings page (/settings, administrators): DNS block-list zones (on/off, and zones added
// here), SPF and antivirus on/off, retention days — each showing the configuration file's value and
// whether it is overridden here — and the accounts (Users).
import * as policy from "./api_policy";
import { el, replace } from "./dom";
import { field, statusLine } from "./domains";
import { formatTime } from "./format";
import type { App } from "./main";

function choice(id: string, current: boolean | undefined, fileValue: boolean, onLabel: string): HTMLSelectElement {
  return el(
    "select",
    { id },
    el("option", { value: "", selected: current === undefined }, `As in the configuration file (${fileValue ? "on" : "off"})`),
    el("option", { value: "on", selected: current === true }, onLabel),
    el("option", { value: "off", selected: current === false }, "Off"),
  );
}

function readChoice(select: HTMLSelectElement): boolean | undefined {
  return select.value === "" ? undefined : select.value === "on";
}

export async function settingsPage(app: App, main: HTMLElement): Promise<void> {
  document.title = "Settings · gatehouse";
  replace(main, el("h1", null, "Settings"), el("p", { class: "loading" }, "Loading…"));
  let current: policy.Settings;
  try {
    current = await policy.settings();
  } catch (error) {
    replace(main, el("h1", null, "Settings"), el("p", { class: "error", role: "alert" }, (error as Error).message));
    return;
  }
  const filtering = el("div");
  // Drawn again after a save, so that "in force" says what the gateway now has.
  const drawFiltering = (settings: policy.Settings, notice?: string) => {
    const form = filteringForm(settings, drawFiltering);
    replace(filtering, form.node);
    if (notice) form.status.ok(notice);
  };
  drawFiltering(current);
  replace(main, el("h1", null, "Settings"), filtering, await usersCard(app));
}

function filteringForm(
  current: policy.Settings,
  redraw: (settings: policy.Settings, notice: string) => void,
): { node: HTMLElement; status: ReturnType<typeof statusLine> } {
  const spf = choice("setting-spf", current.web.spf, current.file.spf, "On");
  const antivirus = choice("setting-antivirus", current.web.antivirus, current.file.antivirus, "On (clamd must be running)");
  const retention = el("input", { id: "setting-retention", type: "number", min: 1, max: 3650, step: 1, value: current.web.retention_days ?? "", placeholder: String(current.file.retention_days) });
  const status = statusLine("settings-status");

  // Block-list zones: a checkbox each; zones added here can be removed.
  let added = [...(current.web.added_dns_lists ?? [])];
  const zoneStates = new Map<string, HTMLInputElement>();
  const zoneList = el("ul", { class: "plain zones" });
  const drawZones = () => {
    const rows = [...current.dns_lists.filter((z) => z.source === "file"), ...added.map((a) => ({ zone: a.zone, source: "web" as const, enabled: current.web.dns_lists?.[a.zone] ?? true, action: a.action }))];
    replace(
      zoneList,
      rows.length
        ? rows.map((z) => {
            const box = zoneStates.get(z.zone) ?? el("input", { type: "checkbox", id: `zone-${z.zone}`, checked: z.enabled });
            zoneStates.set(z.zone, box);
            const removeButton = z.source === "web" ? el("button", { type: "button", class: "link-button", "aria-label": `Remove ${z.zone}` }, "Remove") : null;
            removeButton?.addEventListener("click", () => {
              added = added.filter((a) => a.zone !== z.zone);
              zoneStates.delete(z.zone);
              drawZones();
            });
            return el("li", null, box, " ", el("label", { for: box.id, class: "address" }, z.zone), ` — ${z.source === "file" ? "configuration file" : `added here, any listing: ${z.action}`} `, removeButton);
          })
        : el("li", { class: "muted" }, "No block-list zones are configured."),
    );
  };
  drawZones();
  const newZone = el("input", { id: "zone-new", placeholder: "zen.spamhaus.org", autocomplete: "off", spellcheck: "false" });
  const newAction = el("input", { id: "zone-new-action", placeholder: "reject, or a score like 3", autocomplete: "off", value: "reject" });
  const addZone = el("button", { type: "button", id: "zone-add" }, "Add zone");
  addZone.addEventListener("click", () => {
    status.clear();
    const zone = newZone.value.trim().toLowerCase().replace(/\.$/, "");
    const actionText = newAction.value.trim();
    const action = /^-?\d+(\.\d+)?$/.test(actionText) ? Number(actionText) : actionText;
    if (!zone) return status.fail(new Error("Enter the zone's name."));
    if (current.dns_lists.some((z) => z.zone === zone) || added.some((a) => a.zone === zone)) return status.fail(new Error(`${zone} is there already.`));
    added.push({ zone, action });
    newZone.value = "";
    drawZones();
    status.ok(`${zone} added to the list: save to put it in force.`);
  });

  const form = el(
    "form",
    { class: "card", "aria-labelledby": "filtering-title" },
    el("h2", { id: "filtering-title" }, "Filtering"),
    el(
      "div",
      { class: "fields" },
      field("SPF check", spf, `In force: ${current.in_force.spf ? "on" : "off"}`),
      field("Antivirus (clamd)", antivirus, `In force: ${current.in_force.antivirus ? "on" : "off"}`),
      field("Keep the log and copies for (days)", retention, `Empty: the configuration file's ${current.file.retention_days}. In force: ${current.in_force.retention_days}`),
    ),
    el("h3", null, "DNS block lists"),
    zoneList,
    el("div", { class: "actions" }, field("Zone", newZone), field("On a listing", newAction), addZone),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: "settings-save" }, "Save settings")),
    status.node,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.clear();
    const next: policy.WebSettings = {};
    const spfValue = readChoice(spf);
    const avValue = readChoice(antivirus);
    if (spfValue !== undefined) next.spf = spfValue;
    if (avValue !== undefined) next.antivirus = avValue;
    if (retention.value !== "") {
      const days = Number(retention.value);
      if (!Number.isInteger(days) || days < 1 || days > 3650) return status.fail(new Error("Retention: a whole number of days from 1 to 3650."));
      next.retention_days = days;
    }
    const zones: Record<string, boolean> = {};
    for (const [zone, box] of zoneStates) if (!box.checked) zones[zone] = false;
    if (Object.keys(zones).length) next.dns_lists = zones;
    if (added.length) next.added_dns_lists = added;
    try {
      redraw(await policy.saveSettings(next), "Saved. The next message is judged with these settings.");
    } catch (error) {
      status.fail(error);
    }
  });
  return { node: form, status };
}

async function usersCard(app: App): Promise<HTMLElement> {
  const card = el("section", { class: "card", "aria-labelledby": "users-title" });
  const status = statusLine("users-status");
  const listBody = el("div");
  const load = async () => {
    try {
      const accounts = await policy.accounts();
      replace(
        listBody,
        el(
          "div",
          { class: "table-wrap" },
          el(
            "table",
            { class: "users" },
            el("thead", null, el("tr", null, ["User", "Role", "Domains", "Created", ""].map((h) => el("th", { scope: "col" }, h)))),
            el(
              "tbody",
              null,
              accounts.map((a) => {
                const self = a.username === app.session?.username;
                const remove = self ? el("span", { class: "muted" }, "you") : el("button", { type: "button", class: "link-button", "aria-label": `Remove ${a.username}` }, "Remove");
                if (!self)
                  remove.addEventListener("click", async () => {
                    if (!confirm(`Remove the account ${a.username}? Its sessions end at once.`)) return;
                    try {
                      await policy.removeAccount(a.username);
                      status.ok(`${a.username} removed.`);
                      await load();
                    } catch (error) {
                      status.fail(error);
                    }
                  });
                return el("tr", null, el("td", null, a.username), el("td", null, a.role === "admin" ? "administrator" : "domain administrator"), el("td", null, a.domains.join(", ") || "all"), el("td", null, formatTime(a.created)), el("td", null, remove));
              }),
            ),
          ),
        ),
      );
    } catch (error) {
      replace(listBody, el("p", { class: "error", role: "alert" }, (error as Error).message));
    }
  };
  const username = el("input", { id: "user-new-name", autocomplete: "off", spellcheck: "false", required: true });
  const password = el("input", { id: "user-new-password", type: "password", autocomplete: "new-password", required: true, minlength: 10 });
  const domains = el("input", { id: "user-new-domains", placeholder: "empty: an administrator of everything", autocomplete: "off", spellcheck: "false" });
  const form = el(
    "form",
    null,
    el("h3", null, "Add an account"),
    el("div", { class: "fields" }, field("User name", username), field("Password (10 characters or more)", password), field("Domains (comma-separated)", domains, "A domain administrator sees and manages only these")),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: "user-add" }, "Add account")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.clear();
    const list = domains.value.split(/[,\s]+/).map((d) => d.trim()).filter(Boolean);
    try {
      await policy.addAccount(username.value.trim(), password.value, list);
      status.ok(`${username.value.trim()} added as ${list.length ? "domain administrator of " + list.join(", ") : "administrator"}.`);
      username.value = password.value = domains.value = "";
      await load();
    } catch (error) {
      status.fail(error);
    }
  });
  await load();
  replace(card, el("h2", { id: "users-title" }, "Users"), listBody, form, status.node);
  return card;
}
