// The login form, shown in place of any view when the API answers 401: the token buys a session cookie.

import { api } from "./api.js";
import { fill, h, say } from "./dom.js";

/** @param {HTMLElement} main */
export function showLogin(main) {
  if (document.getElementById("login")) return;
  const input = h("input", { id: "token", type: "password", name: "token", autocomplete: "current-password", required: true });
  const form = h(
    "form",
    { id: "login", class: "card" },
    h("h1", {}, "Log in"),
    h("p", {}, "This server needs its API token (MOBILABEL_API_TOKEN)."),
    h("label", { for: "token" }, "API token"),
    input,
    h("button", { type: "submit" }, "Log in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("/api/session", { json: { token: input.value } });
      location.reload();
    } catch (error) {
      say(/** @type {Error} */ (error).message, true);
    }
  });
  fill(main, form);
  input.focus();
}
