// One session: its summary, who is in it now by territory (a chart), and the full roster with
// each participant's location evidence, all kept current by the watch socket.
import { barChart } from "./charts.js";
import { boot, el, fillRecord, fmtTime, showError, statusBadge, territoryLabel, watchSessions, words } from "./core.js";

const sessionId = document.body.dataset.sessionId;
const $ = (id) => document.getElementById(id);

function evidence(p) {
  const loc = p.location || {};
  const sources = (loc.sources || []).map((s) => {
    // A version usually names its source already ("iptocc 3.3.170 (RIR delegation data)").
    const data = s.version && s.version.startsWith(s.source) ? s.version : [s.source, s.version].filter(Boolean).join(" ");
    const where = `${s.territory || "unknown"}${s.subdivision ? ` (${s.subdivision})` : ""}`;
    return el("li", {}, `${words(s.signal)} says ${where}, per ${data}`);
  });
  const flags = loc.flags && loc.flags.length ? loc.flags.join(", ") : "none";
  return el(
    "details",
    { class: "evidence" },
    el("summary", {}, `${p.client_ip || (p.phone ? "dial-in" : "no address")} — ${sources.length} source(s)`),
    el(
      "dl",
      { class: "record compact" },
      el("dt", {}, "Client address"), el("dd", { class: "mono" }, p.client_ip || "—"),
      el("dt", {}, "Phone"), el("dd", { class: "mono" }, p.phone || "—"),
      el("dt", {}, "Resolved territory"), el("dd", {}, territoryLabel(loc.territory)),
      el("dt", {}, "Anonymizer flags"), el("dd", {}, flags),
      el("dt", {}, "Sources"), el("dd", {}, sources.length ? el("ul", { class: "plain" }, sources) : "none"),
      loc.disagreements && loc.disagreements.length ? [el("dt", {}, "Disagreements"), el("dd", {}, loc.disagreements.join("; "))] : null,
      loc.reason ? [el("dt", {}, "Why unresolved"), el("dd", {}, words(loc.reason))] : null,
      el("dt", {}, "Decision"), el("dd", { class: "mono" }, p.decision_id || "—"),
    ),
  );
}

function why(p) {
  if (!p.reason) return "—";
  const r = p.reason;
  // The notice is the text the participant was shown, verbatim (it quotes the case id).
  if (r.notice) return el("span", {}, r.notice);
  return el("span", {}, r.message || words(r.kind || r.code || ""));
}

function render(message) {
  const s = message.session;
  fillRecord($("session-summary"), [
    ["Meeting", [s.topic || "—", " ", el("span", { class: "mono muted" }, s.meeting_id)]],
    ["Host account", el("span", { class: "mono" }, s.host_account_id || "—")],
    ["State", [statusBadge(s.state), s.locked ? " locked" : ""]],
    ["Node", s.node],
    ["Started", fmtTime(s.started_at)],
    ["Ended", s.ended_at ? fmtTime(s.ended_at) : null],
    ["In the meeting now", el("span", { id: "joined-count" }, String(s.participants.joined))],
    ["Removed", String(s.participants.by_state.removed)],
    ["Refused at join", String(s.participants.by_state.blocked)],
  ]);
  const rows = Object.entries(s.participants.by_territory).map(([code, n]) => ({ label: territoryLabel(code), value: n, kind: "" }));
  $("territory-chart").replaceChildren(barChart(rows, { title: "In the meeting now, by territory" }));
  const body = $("roster-body");
  body.replaceChildren(
    ...message.participants.map((p) =>
      el(
        "tr",
        { dataset: { participantId: p.id, state: p.state, territory: p.territory || "unknown" } },
        el("th", { scope: "row" }, p.display_name, p.dial_in ? el("span", { class: "block muted" }, "dial-in") : null),
        el("td", {}, statusBadge(p.state)),
        el("td", {}, territoryLabel(p.territory)),
        el("td", { class: "when" }, fmtTime(p.joined_at), p.left_at ? el("span", { class: "block muted" }, `left ${fmtTime(p.left_at)}`) : null),
        el("td", {}, evidence(p)),
        el("td", {}, why(p)),
      ),
    ),
  );
  if (!message.participants.length) body.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "Nobody has joined yet.")));
}

boot(async () => {
  const open = new Set();
  watchSessions(sessionId, (message) => {
    if (message.type === "failed") {
      showError($("session-error"), message.error);
      return;
    }
    if (message.type !== "roster") return;
    // Keep the evidence panels the user opened open across updates.
    for (const row of document.querySelectorAll("#roster-body tr")) {
      const details = row.querySelector("details");
      if (details && details.open) open.add(row.dataset.participantId);
      else if (details) open.delete(row.dataset.participantId);
    }
    $("session-content").hidden = false;
    render(message);
    for (const row of document.querySelectorAll("#roster-body tr")) {
      if (open.has(row.dataset.participantId)) row.querySelector("details").open = true;
    }
  });
});
