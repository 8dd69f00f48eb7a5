// The console's shared module: the signed-in token, API calls, errors that say what to do,
// the page frame (identity, sections by role) and small DOM helpers.
//
// Why it looks like this:
// - The token lives in sessionStorage (this tab only) and is sent as an Authorization header
//   by fetch. It never goes into a URL, a cookie or the DOM, so it cannot leak through history,
//   logs, Referer or a cross-site request.
// - What a page offers follows the capabilities GET /api/v1/whoami reports for the token's
//   role; the API enforces the same rules regardless, and its refusals are shown as they come.
// - Everything that came from the API is written with textContent (el() below), never as HTML.

const TOKEN_KEY = "lexloci.console.token";
const NOTICE_KEY = "lexloci.console.notice";

export const regionNames = new Intl.DisplayNames(["en"], { type: "region" });

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function signOut(notice) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (notice) sessionStorage.setItem(NOTICE_KEY, notice);
  const next = location.pathname + location.search;
  location.assign(`/admin/sign-in?next=${encodeURIComponent(next)}`);
}

export function takeNotice() {
  const notice = sessionStorage.getItem(NOTICE_KEY);
  sessionStorage.removeItem(NOTICE_KEY);
  return notice;
}

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `the server answered ${status}`);
    this.status = status;
    this.code = error.code || "http_error";
    this.details = error;
  }
}

export class NetworkError extends Error {}

// One API call. Resolves to the parsed JSON (or the Response itself with raw: true); rejects
// with ApiError (the single error shape) or NetworkError.
export async function api(method, path, { body, query, raw = false, auth = token() } = {}) {
  const url = new URL(`/api/v1${path}`, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (Array.isArray(value)) value.forEach((v) => url.searchParams.append(key, v));
    else if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json" };
  if (auth) headers.Authorization = `Bearer ${auth}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (exc) {
    throw new NetworkError(String(exc));
  }
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    throw new ApiError(response.status, parsed);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

// What went wrong and what to do about it, in one or two sentences.
export function advise(err) {
  if (err instanceof NetworkError) {
    return "Cannot reach the lexloci server. Check your connection and that the server is running, then try again.";
  }
  if (!(err instanceof ApiError)) {
    return `Something went wrong in this page (${err.message}). Reload the page and try again.`;
  }
  const message = sentence(err.message);
  switch (err.status) {
    case 401:
      return "Your token was not accepted: it is unknown or was revoked. Sign in again with a current token.";
    case 403:
      if (err.details.reason === "two_person_rule") {
        return `${message} Ask another approver to decide it.`;
      }
      if (err.details.roles) {
        return `${message} Sign in with a token that has one of these roles: ${err.details.roles.join(", ")}.`;
      }
      return `${message} Ask an administrator for a token with the role this needs.`;
    case 404:
      return `${message} Check the id, or go back to the list it came from.`;
    case 409:
      return `${message} Reload the page to see the current state.`;
    case 413:
      return `The upload is too large: the server accepts requests up to ${err.details.limit} bytes. Split the document into smaller files.`;
    case 422: {
      const fields = (err.details.fields || []).map((f) => `${f.location.replace(/^body\./, "")}: ${f.message}`);
      const what = fields.length ? fields.join("; ") : err.message;
      return `The server did not accept the input (${what}). Correct it and try again.`;
    }
    case 503:
      return "This server is not ready yet (it is still applying restriction changes). Try again in a few seconds.";
    default:
      return `${message} Try again; if it keeps failing, the server log has the details.`;
  }
}

function sentence(text) {
  const trimmed = String(text || "").trim();
  if (!trimmed) return "";
  const first = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

// Show an error in a role="alert" element (or clear it with err = null).
export function showError(element, err) {
  if (!element) return;
  if (err === null || err === undefined) {
    element.hidden = true;
    element.textContent = "";
    return;
  }
  element.textContent = typeof err === "string" ? err : advise(err);
  element.hidden = false;
  if (err instanceof ApiError && err.status === 401) {
    signOut("Your token is no longer accepted (unknown or revoked). Sign in again.");
  }
}

export function announce(text) {
  const announcer = document.getElementById("announcer");
  announcer.textContent = "";
  // A fresh text node after a tick, so screen readers announce a repeated message too.
  setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

// el("a", {href: "/x", class: "y"}, "text", otherNode): an element, with text as text nodes.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replaceChildren(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

// A definition list from [term, value] pairs; values may be nodes or text.
export function fillRecord(dl, pairs) {
  dl.replaceChildren();
  for (const [term, value] of pairs) {
    dl.append(el("dt", {}, term));
    const dd = el("dd");
    append(dd, [value === null || value === undefined || value === "" ? "—" : value]);
    dl.append(dd);
  }
}

export function emptyRow(tbody, columns, text) {
  tbody.replaceChildren(el("tr", {}, el("td", { colspan: columns, class: "muted" }, text)));
}

// Times are shown in UTC, as the API gives them and as requests state their deadlines.
export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function fmtDate(iso) {
  if (!iso) return "—";
  return new Date(iso).toISOString().slice(0, 10);
}

export function territoryLabel(code) {
  if (!code || code === "unknown") return "unknown location";
  let name = null;
  try {
    name = regionNames.of(code.split("-")[0]);
  } catch {
    name = null;
  }
  return name && name !== code ? `${code} (${name})` : code;
}

export function words(value) {
  return String(value || "").replaceAll("_", " ");
}

export function statusBadge(status) {
  return el("span", { class: `status-badge status-${status}` }, words(status));
}

// Sections and nav entries marked data-capability="x" are shown only to roles that have x.
export function applyCapabilities(me, root = document) {
  const allowed = new Set(me.capabilities);
  for (const node of root.querySelectorAll("[data-capability]")) {
    node.hidden = !allowed.has(node.dataset.capability);
  }
}

export function can(me, capability) {
  return me.capabilities.includes(capability);
}

// The frame of every signed-in page: check the token, show who is signed in, show the sections
// the role may use, then run the page. Without a token, go to the sign-in page.
export async function boot(run) {
  if (!token()) {
    signOut(null);
    return;
  }
  let me;
  try {
    me = await api("GET", "/whoami");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      signOut("Your token is no longer accepted (unknown or revoked). Sign in again.");
      return;
    }
    if (err instanceof ApiError && err.status === 403) {
      signOut("That token is not a staff token. The console needs a token with the role admin, intake, reviewer, approver or auditor.");
      return;
    }
    const banner = document.getElementById("banner");
    banner.textContent = advise(err);
    banner.hidden = false;
    return;
  }
  document.getElementById("me-name").textContent = me.name;
  document.getElementById("me-role").textContent = me.role;
  document.getElementById("identity").hidden = false;
  document.getElementById("sign-out").addEventListener("click", () => signOut("You signed out."));
  applyCapabilities(me);
  const requires = document.body.dataset.requires;
  if (requires && !can(me, requires)) {
    // Say so instead of showing a page whose every request the API would refuse.
    const heading = document.querySelector("main h1");
    document.getElementById("main").replaceChildren(
      heading || el("h1", {}, document.title),
      el(
        "p",
        { class: "panel panel-notice", id: "not-allowed", role: "status" },
        `Your role (${me.role}) cannot use this page: it needs one of the roles ${document.body.dataset.requiresRoles}. Sign in with such a token, or see on the `,
        el("a", { href: "/admin/" }, "overview"),
        " what your role can do.",
      ),
    );
    return;
  }
  try {
    await run(me);
  } catch (err) {
    const banner = document.getElementById("banner");
    banner.textContent = advise(err);
    banner.hidden = false;
    if (err instanceof ApiError && err.status === 401) signOut(advise(err));
  }
}

// Trigger a download of a Blob under a file name, without the token ever being in a URL.
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// The WebSocket that pushes session counts (and one roster): reconnects after a drop, with a
// growing pause, and shows its state in the page's live-state element.
export function watchSessions(sessionId, onMessage) {
  const stateEl = document.getElementById("live-state");
  let pause = 1000;
  let stopped = false;
  const setState = (text, kind) => {
    stateEl.textContent = text;
    stateEl.dataset.state = kind;
  };
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/api/v1/watch/sessions`);
    ws.addEventListener("open", () => {
      const hello = { type: "hello", token: token() };
      if (sessionId) hello.session_id = sessionId;
      ws.send(JSON.stringify(hello));
      setState("Live: updates as they happen", "live");
      pause = 1000;
    });
    ws.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "error") {
        stopped = true;
        const err = new ApiError(
          { unauthenticated: 401, forbidden: 403, not_found: 404 }[message.code] || 400,
          { error: message },
        );
        setState("Not live", "stopped");
        onMessage({ type: "failed", error: err });
        return;
      }
      onMessage(message);
    });
    ws.addEventListener("close", () => {
      if (stopped) return;
      setState("Connection lost; reconnecting…", "reconnecting");
      setTimeout(open, pause);
      pause = Math.min(pause * 2, 15_000);
    });
  };
  open();
}

// A file's content as base64, for the JSON body of an attachment upload.
export function fileAsBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

// datetime-local values are taken as UTC (the forms say so).
export function utcFromLocalInput(value) {
  if (!value) return null;
  return `${value.length === 16 ? `${value}:00` : value}Z`;
}

export function utcNowForInput() {
  return new Date().toISOString().slice(0, 16);
}
