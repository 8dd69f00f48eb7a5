// Live meetings: every live session with its participants counted by territory, kept current
// by the watch socket (WS /api/v1/watch/sessions), which pushes a new list whenever it changes.
import { boot, el, emptyRow, fmtTime, showError, territoryLabel, watchSessions } from "./core.js";

const body = document.getElementById("sessions-body");
const error = document.getElementById("sessions-error");

function territoryChips(byTerritory) {
  const entries = Object.entries(byTerritory);
  if (!entries.length) return el("span", { class: "muted" }, "nobody");
  return el(
    "ul",
    { class: "chips" },
    entries.map(([code, n]) =>
      el("li", { class: "chip", dataset: { territory: code, count: String(n) }, title: territoryLabel(code) }, el("span", { class: "chip-code" }, code === "unknown" ? "unknown" : code), ` ${n}`),
    ),
  );
}

function render(sessions) {
  if (!sessions.length) {
    emptyRow(body, 8, "No session is live right now.");
    return;
  }
  body.replaceChildren(
    ...sessions.map((s) =>
      el(
        "tr",
        { dataset: { sessionId: s.id } },
        el("td", {}, el("a", { href: `/admin/sessions/${encodeURIComponent(s.id)}`, class: "mono" }, s.id)),
        el("td", {}, s.topic || "—", el("span", { class: "block muted mono" }, s.meeting_id), s.locked ? el("span", { class: "block" }, "locked") : null),
        el("td", { class: "when" }, fmtTime(s.started_at)),
        el("td", {}, s.node),
        el("td", { class: "num", dataset: { joined: String(s.participants.joined) } }, String(s.participants.joined)),
        el("td", { class: "territories" }, territoryChips(s.participants.by_territory)),
        el("td", { class: "num" }, String(s.participants.by_state.removed)),
        el("td", { class: "num" }, String(s.participants.by_state.blocked)),
      ),
    ),
  );
}

boot(async () => {
  watchSessions(null, (message) => {
    if (message.type === "failed") {
      showError(error, message.error);
      return;
    }
    if (message.type === "sessions") {
      showError(error, null);
      render(message.sessions);
    }
  });
});
