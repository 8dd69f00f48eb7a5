// Restrictions and account suspensions by status, with lift for the roles that may lift.
// Lifting asks for confirmation in the row itself (a second button), so it is one keyboard
// path with no dialog to trap focus.
import { announce, api, boot, can, el, emptyRow, fmtTime, showError, statusBadge, words } from "./core.js";

const form = document.getElementById("restriction-filter");
const body = document.getElementById("restrictions-body");
const error = document.getElementById("restrictions-error");
const status = document.getElementById("restrictions-status");
let me = null;

function scopeText(r) {
  if (r.kind === "restriction") return `${words(r.scope.kind)}${r.scope.ref ? ` ${r.scope.ref}` : ""}`;
  return `account ${r.account_id}`;
}

function whereText(r) {
  if (r.kind !== "restriction") return "the account (its holder is based inside the jurisdiction)";
  const j = r.jurisdiction;
  const codes = j.groups.length ? `${j.groups.join(", ")} (${j.territories.join(", ")})` : j.territories.join(", ");
  return `participants located in ${codes}; ${words(r.effects.join(", "))}; no location: ${r.unknown_location}`;
}

function liftCell(r) {
  const cell = el("td", { class: "actions" });
  if (!can(me, "restrictions.lift") || !["active", "pending"].includes(r.status)) return cell;
  const start = el("button", { type: "button", class: "button button-quiet button-small", "aria-label": `Lift ${r.id}…` }, "Lift…");
  start.addEventListener("click", () => {
    const what = r.kind === "restriction" ? "Participants it keeps out may join again." : "The account is reinstated.";
    const confirm = el("button", { type: "button", class: "button button-danger button-small", "aria-label": `Confirm: lift ${r.id}` }, "Confirm lift");
    const cancel = el("button", { type: "button", class: "button button-quiet button-small" }, "Cancel");
    cell.replaceChildren(el("span", { class: "block" }, what), confirm, " ", cancel);
    cancel.addEventListener("click", () => {
      cell.replaceWith(liftCell(r));
    });
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        await api("POST", `/restrictions/${encodeURIComponent(r.id)}/lift`);
        status.textContent = `${r.id} was lifted.`;
        status.hidden = false;
        announce(`${r.id} was lifted.`);
        await load();
      } catch (err) {
        showError(error, err);
        confirm.disabled = false;
      }
    });
    confirm.focus();
  });
  cell.append(start);
  return cell;
}

async function load() {
  showError(error, null);
  const wanted = form.elements.status.value;
  let rows;
  try {
    ({ restrictions: rows } = await api("GET", "/restrictions", { query: { status: wanted } }));
  } catch (err) {
    showError(error, err);
    emptyRow(body, 7, "Could not load the restrictions.");
    return;
  }
  document.getElementById("restrictions-caption").textContent = `${rows.length} ${wanted || "all"} restrictions and suspensions`;
  if (!rows.length) {
    emptyRow(body, 7, wanted ? `Nothing is ${wanted}.` : "No restriction yet.");
    return;
  }
  body.replaceChildren(
    ...rows.map((r) =>
      el(
        "tr",
        { dataset: { restrictionId: r.id, status: r.status } },
        el("td", { class: "mono" }, r.id, el("span", { class: "block muted" }, r.kind === "restriction" ? "restriction" : "account suspension")),
        el("td", {}, el("a", { href: `/admin/cases/${encodeURIComponent(r.case_ref || r.case_id)}`, class: "mono" }, r.case_ref || r.case_id)),
        el("td", {}, scopeText(r)),
        el("td", {}, whereText(r)),
        el(
          "td",
          { class: "when" },
          el("span", { class: "block" }, `from ${fmtTime(r.valid_from)}`),
          el("span", { class: "block" }, `until ${fmtTime(r.valid_until)}`),
          r.lifted_at ? el("span", { class: "block" }, `lifted ${fmtTime(r.lifted_at)}`) : null,
        ),
        el("td", {}, statusBadge(r.status)),
        liftCell(r),
      ),
    ),
  );
}

boot(async (signedIn) => {
  me = signedIn;
  const params = new URLSearchParams(location.search);
  if (params.has("status")) {
    const choice = form.querySelector(`input[name=status][value="${CSS.escape(params.get("status"))}"]`);
    if (choice) choice.checked = true;
  }
  form.addEventListener("change", () => {
    status.hidden = true;
    const value = form.elements.status.value;
    history.replaceState(null, "", value === "active" ? location.pathname : `?status=${encodeURIComponent(value)}`);
    load();
  });
  await load();
});
