// The interface's pages: each a route (a path pattern), its place in the main navigation (if any)
// and the function that renders it into <main>. main.ts routes by this table; a new page is one
// file of its own and one entry here.
import type { App } from "./main";
import { logPage } from "./log";
import { detailPage } from "./detail";
import { dashboardPage } from "./dashboard";
import { domainPage, domainsPage } from "./domains";
import { listsPage } from "./lists";
import { settingsPage } from "./settings";
import { replayPage } from "./replay";
import { queuePage } from "./queue";

export interface Page {
  // The path: a string matches exactly; a RegExp's groups (decoded) are passed to render.
  path: string | RegExp;
  // The label in the main navigation, and the path it links to; none: not in the navigation.
  nav?: { label: string; href: string };
  // Only for administrators (domain administrators get "not allowed here").
  adminOnly?: boolean;
  render(app: App, main: HTMLElement, ...params: string[]): Promise<void>;
}

export const pages: Page[] = [
  { path: "/dashboard", nav: { label: "Dashboard", href: "/dashboard" }, render: (app, main) => dashboardPage(app, main) },
  { path: "/messages", nav: { label: "Message log", href: "/messages" }, render: (app, main) => logPage(app, main) },
  { path: /^\/messages\/([^/]+)$/, render: (app, main, id) => detailPage(app, main, id) },
  { path: "/domains", nav: { label: "Domains", href: "/domains" }, render: (app, main) => domainsPage(app, main) },
  { path: /^\/domains\/([^/]+)$/, render: (app, main, name) => domainPage(app, main, name) },
  { path: "/lists", nav: { label: "Lists", href: "/lists" }, render: (app, main) => listsPage(app, main) },
  { path: "/settings", nav: { label: "Settings", href: "/settings" }, adminOnly: true, render: (app, main) => settingsPage(app, main) },
  { path: "/replay", nav: { label: "Replay", href: "/replay" }, render: (app, main) => replayPage(app, main) },
  { path: "/queue", nav: { label: "Queue", href: "/queue" }, render: (app, main) => queuePage(app, main) },
];

// The first page after logging in.
export const homePath = "/dashboard";
