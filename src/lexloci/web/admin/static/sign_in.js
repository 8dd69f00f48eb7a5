// The sign-in page: check the token with GET /api/v1/whoami before keeping it, then go back
// to the page that sent the user here (only ever a console page).
import { api, ApiError, advise, setToken, takeNotice, token } from "./core.js";

const form = document.getElementById("sign-in-form");
const input = document.getElementById("token");
const error = document.getElementById("sign-in-error");
const notice = document.getElementById("sign-in-notice");

function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/admin/";
  // Only a path of this console: never another origin ("//evil", "/\\evil") or the sign-in page.
  const ok = /^\/admin(\/[A-Za-z0-9_\-/]*)?(\?[A-Za-z0-9_=&%.\-]*)?$/.test(next) && !next.startsWith("/admin/sign-in");
  return ok ? next : "/admin/";
}

function fail(text) {
  error.textContent = text;
  error.hidden = false;
  input.setAttribute("aria-invalid", "true");
  input.focus();
}

const shown = takeNotice();
if (shown) {
  notice.textContent = shown;
  notice.hidden = false;
}
if (token() && !shown) {
  location.replace(nextPage());
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  input.removeAttribute("aria-invalid");
  const value = input.value.trim();
  if (!value) {
    fail("Paste your access token into the field first.");
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api("GET", "/whoami", { auth: value });
    setToken(value);
    location.assign(nextPage());
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      fail("This token is unknown or was revoked. Check that you pasted all of it (it starts with llt_), or ask an administrator for a new one.");
    } else if (err instanceof ApiError && err.status === 403) {
      fail("This is not a staff token (a meeting host's token, perhaps). The console needs a token with the role admin, intake, reviewer, approver or auditor.");
    } else {
      fail(advise(err));
    }
  } finally {
    button.disabled = false;
  }
});
