// The policy part of the JSON API: domains and their addresses, lists, settings, accounts
// (src/web/api_domains.cpp, api_lists.cpp, api_users.cpp).
import { request, requestWithBody } from "./api";

export interface Domain {
  name: string;
  backend: string;
  recipients: "list" | "backend" | "any";
  tag_threshold: number;
  reject_threshold: number;
  greylisting: boolean | null;
  reject_text: string;
  reject_text_in_force: string;
  source: "file" | "web" | "file+web";
  addresses: number;
}

export type DomainChange = Partial<Omit<Domain, "source" | "addresses" | "reject_text_in_force">>;

export interface AddressRow {
  address: string;
  source: "file" | "web";
}

export interface ImportResult {
  added: number;
  present: number;
  refused: { line: number; text: string; error: string }[];
}

export interface ListPair {
  file: string[];
  web: string[];
}

export interface Lists {
  domain: string;
  lists: Record<string, ListPair>;
}

export interface SettingValues {
  spf: boolean;
  antivirus: boolean;
  retention_days: number;
}

export interface DnsListRow {
  zone: string;
  source: "file" | "web";
  enabled: boolean;
  action?: number | string;
}

export interface WebSettings {
  spf?: boolean;
  antivirus?: boolean;
  retention_days?: number;
  dns_lists?: Record<string, boolean>;
  added_dns_lists?: { zone: string; action: number | string }[];
}

export interface Settings {
  file: SettingValues;
  web: WebSettings;
  in_force: SettingValues;
  dns_lists: DnsListRow[];
}

export interface Account {
  username: string;
  role: string;
  domains: string[];
  created: number;
}

const enc = encodeURIComponent;

export async function domains(): Promise<Domain[]> {
  return ((await (await request("GET", "/api/v1/domains")).json()) as { domains: Domain[] }).domains;
}

export async function addDomain(domain: DomainChange & { name: string; backend: string }): Promise<void> {
  await request("POST", "/api/v1/domains", domain);
}

export async function changeDomain(name: string, change: DomainChange): Promise<void> {
  await request("PUT", `/api/v1/domains/${enc(name)}`, change);
}

export async function removeDomain(name: string): Promise<void> {
  await request("DELETE", `/api/v1/domains/${enc(name)}`);
}

export async function addresses(domain: string): Promise<AddressRow[]> {
  return ((await (await request("GET", `/api/v1/domains/${enc(domain)}/addresses`)).json()) as { addresses: AddressRow[] }).addresses;
}

export function addressesCsvUrl(domain: string): string {
  return `/api/v1/domains/${enc(domain)}/addresses?format=csv`;
}

export async function addAddress(domain: string, address: string): Promise<ImportResult> {
  return (await (await request("POST", `/api/v1/domains/${enc(domain)}/addresses`, { address })).json()) as ImportResult;
}

export async function importAddresses(domain: string, csv: string): Promise<ImportResult> {
  const response = await requestWithBody("POST", `/api/v1/domains/${enc(domain)}/addresses`, csv, "text/csv");
  return (await response.json()) as ImportResult;
}

export async function removeAddress(address: string): Promise<void> {
  await request("DELETE", `/api/v1/addresses/${enc(address)}`);
}

export async function lists(domain: string): Promise<Lists> {
  return (await (await request("GET", `/api/v1/lists${domain ? "?domain=" + enc(domain) : ""}`)).json()) as Lists;
}

export async function saveList(name: string, domain: string, entries: string[]): Promise<void> {
  await request("PUT", `/api/v1/lists/${enc(name)}`, domain ? { domain, entries } : { entries });
}

export async function listSender(id: string, list: "whitelist" | "blacklist"): Promise<{ entry: string; domain: string }> {
  return (await (await request("POST", `/api/v1/messages/${enc(id)}/sender-list`, { list })).json()) as { entry: string; domain: string };
}

export async function settings(): Promise<Settings> {
  return (await (await request("GET", "/api/v1/settings")).json()) as Settings;
}

export async function saveSettings(web: WebSettings): Promise<Settings> {
  return (await (await request("PUT", "/api/v1/settings", web)).json()) as Settings;
}

export async function accounts(): Promise<Account[]> {
  return ((await (await request("GET", "/api/v1/users")).json()) as { users: Account[] }).users;
}

export async function addAccount(username: string, password: string, domains: string[]): Promise<void> {
  await request("POST", "/api/v1/users", { username, password, domains });
}

export async function removeAccount(username: string): Promise<void> {
  await request("DELETE", `/api/v1/users/${enc(username)}`);
}
