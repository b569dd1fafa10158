// The Lists page (/lists): the white list, black list and No Host Checks table — globally
// (administrators) or for one domain (its administrators too) — and the global trusted networks
// and spam traps. The configuration file's entries are shown beside the ones added here; only the
// latter are edited here. One entry a line; a change applies to the next message at once.
import * as policy from "./api_policy";
import { el, replace } from "./dom";
import { field, statusLine } from "./domains";
import type { App } from "./main";

const descriptions: Record<string, { title: string; help: string; example: string }> = {
  whitelist: { title: "White list", help: "Senders whose mail is accepted whatever its score: IP addresses or networks, domains (with their subdomains), addresses, patterns with * and ?.", example: "partner.example\n192.0.2.0/24\nboss@supplier.example" },
  blacklist: { title: "Black list", help: "Senders whose mail is refused. Same kinds of entries as the white list.", example: "spammer.example\n*@*.bad.example" },
  no_host_checks: { title: "No Host Checks", help: "Clients and senders exempt from the checks of the connecting host (DNS block lists, reverse DNS, HELO, SPF): a relay that forwards mail, for example.", example: "198.51.100.25\nforwarder.example" },
  trusted_networks: { title: "Trusted networks", help: "Your own networks: clients there may relay mail outward and are not filtered as strangers. IP addresses or CIDR networks.", example: "10.0.0.0/8\n2001:db8::/32" },
  spam_traps: { title: "Spam traps", help: "Addresses nobody legitimate writes to: a message to one is refused and its sender's IP is marked bad for a while.", example: "trap@example.org" },
};

export async function listsPage(app: App, main: HTMLElement): Promise<void> {
  document.title = "Lists · gatehouse";
  const admin = app.session?.role === "admin";
  const params = new URLSearchParams(location.search);
  const scopes = admin ? ["", ...(await domainNames())] : app.session?.domains ?? [];
  let scope = params.get("domain") ?? (admin ? "" : scopes[0] ?? "");
  if (!scopes.includes(scope)) scope = scopes[0] ?? "";

  const chooser = el(
    "select",
    { id: "lists-scope" },
    scopes.map((s) => el("option", { value: s, selected: s === scope }, s === "" ? "All domains (global)" : s)),
  );
  chooser.addEventListener("change", () => app.navigate(`/lists${chooser.value ? "?domain=" + encodeURIComponent(chooser.value) : ""}`));
  const body = el("div", null, el("p", { class: "loading" }, "Loading…"));
  replace(main, el("h1", null, "Lists"), scopes.length ? el("div", { class: "fields narrow" }, field("Lists of", chooser)) : el("p", { class: "empty" }, "You have no domains to manage."), body);
  if (!scopes.length) return;

  let data: policy.Lists;
  try {
    data = await policy.lists(scope);
  } catch (error) {
    replace(body, el("p", { class: "error", role: "alert" }, (error as Error).message));
    return;
  }
  replace(body, Object.entries(data.lists).map(([name, pair]) => listCard(name, scope, pair)));
}

async function domainNames(): Promise<string[]> {
  try {
    return (await policy.domains()).map((d) => d.name);
  } catch {
    return [];
  }
}

function listCard(name: string, scope: string, pair: policy.ListPair): HTMLElement {
  const info = descriptions[name] ?? { title: name, help: "", example: "" };
  const id = `list-${name.replace(/_/g, "-")}`;
  const text = el("textarea", { id, rows: Math.min(12, Math.max(3, pair.web.length + 1)), spellcheck: "false", placeholder: info.example, "aria-describedby": `${id}-help` });
  text.value = pair.web.join("\n");
  const status = statusLine(`${id}-status`);
  const form = el(
    "form",
    { class: "card list", "aria-labelledby": `${id}-title` },
    el("h2", { id: `${id}-title` }, info.title),
    el("p", { id: `${id}-help`, class: "muted" }, info.help, " One entry a line."),
    pair.file.length
      ? el("details", null, el("summary", null, `${pair.file.length} entr${pair.file.length === 1 ? "y" : "ies"} from the configuration file`), el("ul", { class: "plain file-entries" }, pair.file.map((e) => el("li", { class: "address" }, e))))
      : null,
    el("label", { for: id }, pair.file.length ? "Entries added here" : "Entries"),
    text,
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: `${id}-save` }, `Save ${info.title.toLowerCase()}`)),
    status.node,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.clear();
    const entries = text.value
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith("#"));
    try {
      await policy.saveList(name, scope, entries);
      status.ok(entries.length ? `Saved: ${entries.length} entr${entries.length === 1 ? "y" : "ies"}, in force for the next message.` : "Saved: no entries added here.");
    } catch (error) {
      status.fail(error);
      text.focus();
    }
  });
  return form;
}
