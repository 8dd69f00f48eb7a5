// The case list. Status, country and request type are filters of GET /api/v1/cases; the
// deadline filter is applied here (the API has none). The filters live in the page's query
// string, so a filtered list can be bookmarked or shared (it holds no token).
import { api, boot, el, emptyRow, fmtTime, showError, statusBadge, territoryLabel, words } from "./core.js";

const form = document.getElementById("case-filters");
const body = document.getElementById("cases-body");
const caption = document.getElementById("cases-caption");
const error = document.getElementById("cases-error");
const FIELDS = ["status", "country", "request_type", "deadline_by"];

function readQuery() {
  const params = new URLSearchParams(location.search);
  for (const name of FIELDS) {
    if (params.has(name)) form.elements[name].value = params.get(name);
  }
}

function filters() {
  const out = {};
  for (const name of FIELDS) {
    const value = form.elements[name].value.trim();
    if (value) out[name] = name === "country" ? value.toUpperCase() : value;
  }
  return out;
}

function overdue(c) {
  return c.deadline && c.status === "received" && new Date(c.deadline) < new Date();
}

async function load() {
  showError(error, null);
  const wanted = filters();
  const country = wanted.country;
  if (country && !/^[A-Z]{2}$/.test(country)) {
    showError(error, "The requesting country is two letters, e.g. CN. Correct it and apply the filters again.");
    form.elements.country.focus();
    return;
  }
  const query = new URLSearchParams(wanted).toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
  let cases;
  try {
    ({ cases } = await api("GET", "/cases", {
      query: { status: wanted.status, country, request_type: wanted.request_type },
    }));
  } catch (err) {
    showError(error, err);
    emptyRow(body, 8, "Could not load the cases.");
    return;
  }
  if (wanted.deadline_by) {
    const limit = new Date(`${wanted.deadline_by}T23:59:59.999Z`);
    cases = cases.filter((c) => c.deadline && new Date(c.deadline) <= limit);
  }
  caption.textContent = `${cases.length} case${cases.length === 1 ? "" : "s"}, newest first`;
  if (!cases.length) {
    emptyRow(body, 8, "No case matches these filters.");
    return;
  }
  body.replaceChildren(
    ...cases.map((c) =>
      el(
        "tr",
        { dataset: { caseId: c.id } },
        el("td", {}, el("a", { href: `/admin/cases/${encodeURIComponent(c.id)}`, class: "mono" }, c.id)),
        el("td", {}, c.authority.name, c.authority.agency ? el("span", { class: "muted block" }, c.authority.agency) : null),
        el("td", {}, territoryLabel(c.authority.country)),
        el("td", {}, words(c.request_type)),
        el("td", { class: "when" }, fmtTime(c.received_at)),
        el("td", { class: overdue(c) ? "when overdue" : "when" }, fmtTime(c.deadline), overdue(c) ? el("span", { class: "block" }, "overdue") : null),
        el("td", {}, statusBadge(c.status)),
        el("td", {}, c.intake_by),
      ),
    ),
  );
}

boot(async () => {
  readQuery();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  form.addEventListener("reset", () => setTimeout(load, 0));
  await load();
});
