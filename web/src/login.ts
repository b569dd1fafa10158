// The login form: a plain <form> (Enter submits, labels on every field), the API's error shown.
import * as api from "./api";
import { el } from "./dom";
import type { App } from "./main";
import { homePath } from "./pages";

export function loginPage(app: App): HTMLElement {
  const username = el("input", { id: "username", name: "username", autocomplete: "username", required: true, autofocus: true, autocapitalize: "none", spellcheck: "false" });
  const password = el("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = el("button", { type: "submit", class: "primary" }, "Log in");
  const message = el("p", { id: "login-error", class: "error", role: "alert", hidden: true });
  const notice = app.notice ? el("p", { class: "notice", role: "status" }, app.notice) : null;
  app.notice = "";

  const form = el(
    "form",
    { class: "login", "aria-labelledby": "login-title", novalidate: true },
    el("h1", { id: "login-title" }, "gatehouse"),
    el("p", { class: "muted" }, "Log in to the mail gateway's administration."),
    notice,
    el("label", { for: "username" }, "User name"),
    username,
    el("label", { for: "password" }, "Password"),
    password,
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.hidden = true;
    if (!username.value || !password.value) {
      message.textContent = "Enter your user name and password.";
      message.hidden = false;
      (username.value ? password : username).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Logging in…";
    try {
      app.setSession(await api.login(username.value, password.value));
      const next = new URLSearchParams(location.search).get("next");
      app.navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : homePath, true);
    } catch (error) {
      // The API's own words ("wrong user name or password", "too many failed logins: …").
      const text = (error as Error).message;
      message.textContent = text.charAt(0).toUpperCase() + text.slice(1) + (text.endsWith(".") ? "" : ".");
      message.hidden = false;
      password.value = "";
      password.focus();
      submit.disabled = false;
      submit.textContent = "Log in";
    }
  });
  return el("main", { class: "login-page" }, form);
}
