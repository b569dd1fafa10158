// gatehouse web administration: a single page with client-side routes (History API), served by
// the daemon from web/dist; every route that is not /api/… gets index.html, so a reload or a
// bookmarked /messages/ID works.
//   /login            the login form
//   /messages         the message log (its search in the query string)
//   /messages/ID      one message
import "./style.css";
import * as api from "./api";
import { el, replace } from "./dom";
import { timeZone } from "./format";
import { loginPage } from "./login";
import { logPage } from "./log";
import { detailPage } from "./detail";

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
    el("a", { href: "/messages", class: "brand", "data-link": true }, "gatehouse"),
    el("nav", { "aria-label": "Main" }, el("a", { href: "/messages", "data-link": true }, "Message log")),
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
    history.replaceState(null, "", next && next.startsWith("/") && !next.startsWith("//") ? next : "/messages");
    return render();
  }
  const main = el("main", { class: "page", id: "main" });
  replace(root, header(app.session), main, el("footer", { class: "foot" }, `Times are shown in your time zone (${timeZone}).`));
  const detail = /^\/messages\/([^/]+)$/.exec(path);
  if (path === "/messages") await logPage(app, main);
  else if (detail) await detailPage(app, main, decodeURIComponent(detail[1]));
  else {
    document.title = "Not found · gatehouse";
    replace(main, el("h1", null, "Page not found"), el("p", null, el("a", { href: "/messages", "data-link": true }, "Go to the message log")));
  }
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
