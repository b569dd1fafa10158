// gatehouse web administration: a single page with client-side routes (History API), served by
// the daemon from web/dist; every route that is not /api/… gets index.html, so a reload or a
// bookmarked /messages/ID works. /login is the login form; the other pages are listed in pages.ts.
import "./style.css";
import * as api from "./api";
import { el, replace } from "./dom";
import { timeZone } from "./format";
import { loginPage } from "./login";
import { homePath, pages } from "./pages";

export interface App {
  session: api.Session | null;
  navigate(path: string, replaceState?: boolean): void;
  setSession(session: api.Session | null): void;
  notice: string;
}

const root = document.getElementById("app")!;

const app: App = {
  session: null,
  notice: "",
  navigate(path: string, replaceState = false) {
    if (replaceState) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
    void render();
  },
  setSession(session) {
    app.session = session;
    api.setCsrfToken(session?.csrf_token ?? "");
  },
};

api.setUnauthorizedHandler(() => {
  if (!app.session) return;
  app.setSession(null);
  app.notice = "Your session has ended: please log in again.";
  const back = location.pathname + location.search;
  app.navigate(`/login?next=${encodeURIComponent(back)}`, true);
});

function roleText(session: api.Session): string {
  if (session.role === "admin") return "administrator";
  return `domain administrator: ${session.domains.join(", ") || "no domains"}`;
}

function header(session: api.Session): HTMLElement {
  const logoutButton = el("button", { type: "button", class: "link-button", id: "logout" }, "Log out");
  logoutButton.addEventListener("click", async () => {
    logoutButton.disabled = true;
    try {
      await api.logout();
    } catch {
      /* the session is gone either way */
    }
    app.setSession(null);
    app.notice = "You have logged out.";
    app.navigate("/login", true);
  });
  return el(
    "header",
    { class: "top" },
    el("a", { href: homePath, class: "brand", "data-link": true }, "gatehouse"),
    el(
      "nav",
      { "aria-label": "Main" },
      ...pages
        .filter((page) => page.nav && (!page.adminOnly || session.role === "admin"))
        .map((page) => {
          const current = location.pathname === page.nav!.href || location.pathname.startsWith(page.nav!.href + "/");
          return el("a", { href: page.nav!.href, "data-link": true, ...(current ? { "aria-current": "page" } : {}) }, page.nav!.label);
        }),
    ),
    el(
      "div",
      { class: "user" },
      el("span", { class: "who", title: roleText(session) }, el("strong", { id: "current-user" }, session.username), ` (${roleText(session)})`),
      logoutButton,
    ),
  );
}

let generation = 0;

async function render(): Promise<void> {
  const mine = ++generation;
  const path = location.pathname;
  if (!app.session) {
    try {
      app.setSession(await api.currentSession());
    } catch (error) {
      replace(root, el("main", { class: "page" }, el("p", { class: "error", role: "alert" }, String((error as Error).message))));
      return;
    }
    if (mine !== generation) return;
  }
  if (!app.session) {
    if (path !== "/login") {
      const back = path === "/" ? "" : `?next=${encodeURIComponent(path + location.search)}`;
      history.replaceState(null, "", `/login${back}`);
    }
    document.title = "Log in · gatehouse";
    replace(root, loginPage(app));
    return;
  }
  if (path === "/login" || path === "/" || path === "") {
    const next = new URLSearchParams(location.search).get("next");
    history.replaceState(null, "", next && next.startsWith("/") && !next.startsWith("//") ? next : homePath);
    return render();
  }
  const main = el("main", { class: "page", id: "main" });
  replace(root, header(app.session), main, el("footer", { class: "foot" }, `Times are shown in your time zone (${timeZone}).`));
  for (const page of pages) {
    const match = typeof page.path === "string" ? (page.path === path ? [path] : null) : page.path.exec(path);
    if (!match) continue;
    if (page.adminOnly && app.session.role !== "admin") {
      document.title = "Not allowed · gatehouse";
      replace(main, el("h1", null, "Not allowed here"), el("p", null, "This page is for administrators only."));
      return;
    }
    await page.render(app, main, ...match.slice(1).map((part) => decodeURIComponent(part)));
    return;
  }
  document.title = "Not found · gatehouse";
  replace(main, el("h1", null, "Page not found"), el("p", null, el("a", { href: homePath, "data-link": true }, "Go to the first page")));
}

// Links within the interface change the route without reloading the page.
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = (event.target as Element).closest?.("a[data-link]") as HTMLAnchorElement | null;
  if (!link || link.origin !== location.origin) return;
  event.preventDefault();
  app.navigate(link.pathname + link.search);
});
window.addEventListener("popstate", () => void render());

void render();
