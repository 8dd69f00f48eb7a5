// One case: the request record, the two-person rule, the impact preview (table and chart),
// the planned actions, the decision form, attachments and the audit timeline.
//
// The decision form is shown only to approvers, and disabled (with the reason) for the person
// who took the case in: the API refuses both anyway, the page just says so first.
import { barChart } from "./charts.js";
import {
  announce,
  api,
  boot,
  can,
  download,
  el,
  emptyRow,
  fileAsBase64,
  fillRecord,
  fmtTime,
  showError,
  statusBadge,
  territoryLabel,
  words,
} from "./core.js";

const caseId = document.body.dataset.caseId;
const path = `/cases/${encodeURIComponent(caseId)}`;
const $ = (id) => document.getElementById(id);
const KINDS = ["inside", "outside", "uncertain"];
const KIND_LABEL = { inside: "inside the jurisdiction", outside: "outside", uncertain: "location uncertain" };
const COLUMN = { inside: "Inside", outside: "Outside", uncertain: "Uncertain" };

const state = { me: null, case: null, impact: null };

// -- request record and two-person rule ------------------------------------------------------

function targetText(t) {
  return t ? `${words(t.kind)} ${t.ref}${t.url ? ` (${t.url})` : ""}` : "—";
}

function renderRecord(c) {
  const a = c.authority;
  const jurisdiction = [...a.jurisdiction.territories, ...a.jurisdiction.groups.map((g) => `group ${g}`)];
  fillRecord($("record"), [
    ["Authority", [a.name, a.agency ? ` — ${a.agency}` : ""].join("")],
    ["Requesting country", territoryLabel(a.country)],
    ["Jurisdiction", a.jurisdiction.groups.length ? `${a.jurisdiction.groups.join(", ")}: ${a.jurisdiction.territories.join(", ")}` : jurisdiction.join(", ")],
    ["Request type", words(c.request_type)],
    ["Legal process", words(c.legal_process)],
    ["Legal basis", c.legal_basis],
    ["Demands", c.requested_actions.map(words).join(", ")],
    ["Targets", el("ul", { class: "plain" }, c.targets.map((t) => el("li", { class: "mono" }, targetText(t))))],
    ["Received", fmtTime(c.received_at)],
    ["Deadline", fmtTime(c.deadline)],
    ["Non-disclosure order until", fmtTime(c.non_disclosure_until)],
    ["Description", c.description],
    ["Notes", c.notes.length ? el("ul", { class: "plain" }, c.notes.map((n) => el("li", {}, `${n.by}, ${fmtTime(n.at)}: ${n.text}`))) : null],
  ]);
  const badge = $("case-status");
  badge.replaceWith(Object.assign(statusBadge(c.status), { id: "case-status" }));
}

function renderRule(c, me) {
  $("rule-intake").replaceChildren("Taken in by ", el("strong", { id: "intake-by" }, c.intake_by), ` on ${fmtTime(c.created_at)}.`);
  const decider = $("rule-decider");
  if (c.decided_by) {
    decider.replaceChildren("Decided by ", el("strong", {}, c.decided_by), ` on ${fmtTime(c.decided_at)}.`);
  } else if (me.name === c.intake_by) {
    decider.textContent = `You (${me.name}) took this case in, so you cannot decide it: another approver must.`;
  } else {
    decider.textContent = `Any approver other than ${c.intake_by} may decide it.`;
  }
}

// -- impact preview ---------------------------------------------------------------------------

function impactRows(target) {
  const territories = new Map();
  for (const kind of KINDS) {
    for (const [territory, n] of Object.entries(target.participants[kind].by_territory)) {
      const row = territories.get(territory) || { territory, inside: 0, outside: 0, uncertain: 0 };
      row[kind] += n;
      territories.set(territory, row);
    }
  }
  const order = (r) => (r.inside ? 0 : r.uncertain ? 1 : 2);
  return [...territories.values()].sort((a, b) => order(a) - order(b) || a.territory.localeCompare(b.territory));
}

function renderTarget(target, index) {
  const rows = impactRows(target);
  const p = target.participants;
  const table = el(
    "table",
    { class: "data compact impact-table", dataset: { target: String(index) } },
    el("caption", {}, `Participants by territory for ${targetText(target.target)}`),
    el(
      "thead",
      {},
      el("tr", {}, el("th", { scope: "col" }, "Territory"), ...KINDS.map((k) => el("th", { scope: "col", class: "num" }, COLUMN[k]))),
    ),
    el(
      "tbody",
      {},
      rows.length
        ? rows.map((r) =>
            el(
              "tr",
              { dataset: { territory: r.territory } },
              el("th", { scope: "row" }, territoryLabel(r.territory)),
              ...KINDS.map((k) => el("td", { class: `num ${r[k] ? `cell-${k}` : "muted"}`, dataset: { kind: k } }, String(r[k]))),
            ),
          )
        : el("tr", {}, el("td", { colspan: 4, class: "muted" }, "Nobody has joined these sessions.")),
    ),
    el(
      "tfoot",
      {},
      el("tr", {}, el("th", { scope: "row" }, "Total"), ...KINDS.map((k) => el("td", { class: "num", dataset: { total: k } }, String(p[k].total)))),
    ),
  );
  const chart = barChart(
    rows.flatMap((r) => KINDS.filter((k) => r[k]).map((k) => ({ label: territoryLabel(r.territory), value: r[k], kind: k }))),
    { title: `Participants by territory, ${targetText(target.target)}` },
  );
  const live = target.live_participants;
  return el(
    "div",
    { class: "impact-target" },
    el("h3", {}, `Target ${index + 1}: `, el("span", { class: "mono" }, targetText(target.target))),
    el(
      "p",
      { class: "hint" },
      `${target.sessions.total} session(s), ${target.sessions.live} live now. In the live sessions now: ${live.inside} inside, ${live.outside} outside, ${live.uncertain} with an uncertain location.`,
      target.accounts.length ? ` Host account(s): ${target.accounts.map((a) => `${a.id} (based in ${a.home_country}, ${a.status})`).join(", ")}.` : "",
    ),
    el("div", { class: "impact-body" }, table, rows.length ? el("figure", { class: "chart-figure" }, chart, el("figcaption", { class: "legend" }, legend())) : null),
  );
}

function legend() {
  return KINDS.map((k) => el("span", { class: `legend-item legend-${k}` }, el("span", { class: "swatch", "aria-hidden": "true" }), KIND_LABEL[k]));
}

function renderPlan(actions) {
  const body = $("plan-body");
  if (!actions.length) {
    emptyRow(body, 5, "No demand to plan.");
    return;
  }
  body.replaceChildren(
    ...actions.map((a) =>
      el(
        "tr",
        { dataset: { key: a.key } },
        el("td", { class: "mono" }, a.key),
        el("td", {}, words(a.action)),
        el("td", { class: "mono" }, targetText(a.target)),
        el("td", {}, statusBadge(a.outcome), a.reasons.length ? el("span", { class: "block muted" }, a.reasons.map(words).join(", ")) : null),
        el("td", {}, a.applied || "nothing", a.message ? el("span", { class: "block muted" }, a.message) : null),
      ),
    ),
  );
}

// What the chosen decision would do, in one paragraph, next to the button.
function consequence(impact, decision, chosen) {
  const j = impact.jurisdiction.join(", ");
  const sum = (f) => impact.targets.reduce((n, t) => n + f(t), 0);
  const inside = sum((t) => t.participants.inside.total);
  const liveInside = sum((t) => t.live_participants.inside);
  const outside = sum((t) => t.participants.outside.total);
  if (decision === "reject") {
    return `Rejecting changes nothing for any participant or account; the refusal and its reason are recorded and counted in the transparency report.`;
  }
  const carried = impact.actions.filter((a) => a.outcome !== "rejected" && (decision === "approve_all" || chosen.includes(a.key)));
  const parts = [];
  if (carried.some((a) => a.restriction_scope)) {
    parts.push(
      `keeps participants located in ${j} out of the targets' meetings: ${liveInside} of them in a live session now would be removed (${inside} located in ${j} joined so far)`,
    );
  }
  const disclosed = carried.reduce((n, a) => n + a.disclose_count, 0);
  if (disclosed) parts.push(`discloses the records of ${disclosed} participant(s) located in ${j}`);
  const suspended = carried.filter((a) => a.suspend_account).map((a) => a.suspend_account);
  if (suspended.length) parts.push(`suspends the account(s) ${suspended.join(", ")}, whose holders are based in ${j}`);
  const what = decision === "approve_all" ? "every planned action" : "the ticked actions";
  if (!parts.length) return `Approving ${what} changes nothing for any participant: nothing chosen restricts, suspends or discloses. The ${outside} located outside ${j} are not affected either way.`;
  return `Approving ${what} ${parts.join("; ")}. The ${outside} participant(s) located outside ${j} are not affected.`;
}

async function loadImpact() {
  const error = $("impact-error");
  try {
    state.impact = await api("GET", `${path}/impact`);
  } catch (err) {
    showError(error, err);
    return;
  }
  showError(error, null);
  $("impact-jurisdiction").textContent = state.impact.jurisdiction.join(", ");
  $("impact").replaceChildren(...state.impact.targets.map(renderTarget));
  renderPlan(state.impact.actions);
  renderDecisionChoices();
}

// -- decision ---------------------------------------------------------------------------------

function renderDecisionChoices() {
  const box = $("part-checks");
  if (!state.impact) return;
  box.replaceChildren(
    ...state.impact.actions.map((a) => {
      const refused = a.outcome === "rejected";
      const id = `approve-${a.key.replace(/[^a-z0-9]/gi, "-")}`;
      return el(
        "div",
        { class: "check-row" },
        el("input", { type: "checkbox", id, name: "approve", value: a.key, disabled: refused }),
        el("label", { for: id, class: "check-label" }, el("span", { class: "mono" }, a.key), ` — ${words(a.action)}: ${refused ? `refused by the scope guard (${a.message})` : a.applied}`),
      );
    }),
  );
  syncDecisionFields();
}

function syncDecisionFields() {
  const form = $("decision-form");
  const decision = form.elements.decision.value;
  const chosen = [...form.querySelectorAll("input[name=approve]:checked")].map((c) => c.value);
  if (state.impact) $("decision-consequence").textContent = consequence(state.impact, decision, chosen);
  showError($("decision-error"), null);
  $("part-actions").hidden = decision !== "approve_part";
  $("reject-reason-field").hidden = decision === "approve_all";
  $("decision-submit").textContent = decision === "reject" ? "Reject the request" : "Record the approval";
}

function renderDecision(c, me) {
  const done = $("decision-done");
  const form = $("decision-form");
  const unavailable = $("decision-unavailable");
  unavailable.hidden = true;
  $("plan").hidden = c.status !== "received";
  if (c.status !== "received") {
    form.hidden = true;
    done.hidden = false;
    $("decision-summary").replaceChildren(statusBadge(c.status), ` by ${c.decided_by || "—"} on ${fmtTime(c.decided_at)}.`);
    const body = $("outcomes-body");
    body.replaceChildren(
      ...c.outcomes.map((o) =>
        el(
          "tr",
          {},
          el("td", {}, words(o.action)),
          el("td", { class: "mono" }, targetText(o.target)),
          el("td", {}, statusBadge(o.outcome)),
          el("td", {}, o.applied || "nothing", o.message ? el("span", { class: "block muted" }, o.message) : null),
          el("td", {}, o.reasons.map(words).join(", ") || "—"),
        ),
      ),
    );
    return;
  }
  done.hidden = true;
  if (!can(me, "cases.decide")) {
    form.hidden = true;
    unavailable.textContent = `Deciding needs the approver role; you are signed in as ${me.role}. An approver other than ${c.intake_by} can decide this case.`;
    unavailable.hidden = false;
    return;
  }
  form.hidden = false;
  const own = me.name === c.intake_by;
  $("decision-fields").disabled = own;
  if (own) {
    unavailable.textContent = `You (${me.name}) took this case in, so the two-person rule does not let you decide it. Another approver must decide it.`;
    unavailable.hidden = false;
    form.setAttribute("aria-describedby", "decision-unavailable");
  }
  syncDecisionFields();
}

async function submitDecision(event) {
  event.preventDefault();
  const form = $("decision-form");
  const error = $("decision-error");
  showError(error, null);
  const decision = form.elements.decision.value;
  const body = {
    decision,
    unknown_location: form.elements.unknown_location.value,
    note: form.elements.note.value.trim(),
  };
  if (decision !== "approve_all") body.rejection_reason = form.elements.rejection_reason.value;
  if (decision === "approve_part") {
    body.approve = [...form.querySelectorAll("input[name=approve]:checked")].map((c) => c.value);
    if (!body.approve.length) {
      showError(error, "Tick at least one action to approve, or choose another decision.");
      form.querySelector("input[name=approve]:not([disabled])")?.focus();
      return;
    }
  }
  const until = form.elements.valid_until.value;
  if (until) body.valid_until = `${until}T23:59:59Z`;
  const button = $("decision-submit");
  button.disabled = true;
  try {
    const decided = await api("POST", `${path}/decision`, { body });
    state.case = decided;
    render();
    await Promise.all([loadImpact(), loadTimeline()]);
    announce(`Decision recorded: ${words(decided.status)}.`);
    $("decision-heading").setAttribute("tabindex", "-1");
    $("decision-heading").focus();
  } catch (err) {
    showError(error, err);
  } finally {
    button.disabled = false;
  }
}

// -- attachments ------------------------------------------------------------------------------

function renderAttachments(c) {
  const list = $("attachment-list");
  if (!c.attachments.length) {
    list.replaceChildren(el("li", { class: "muted" }, "No attachments."));
    return;
  }
  list.replaceChildren(
    ...c.attachments.map((a) => {
      const button = el("button", { type: "button", class: "button button-quiet button-small" }, `Download ${a.filename}`);
      button.addEventListener("click", async () => {
        try {
          const response = await api("GET", `${path}/attachments/${a.sha256}`, { raw: true });
          download(await response.blob(), a.filename);
        } catch (err) {
          showError($("case-error"), err);
        }
      });
      return el("li", {}, button, ` ${Math.ceil(a.size / 1024)} KB, ${a.media_type}, added ${fmtTime(a.added_at)}, sha256 `, el("span", { class: "mono" }, a.sha256.slice(0, 16)), "…");
    }),
  );
}

async function submitAttachment(event) {
  event.preventDefault();
  const form = $("attach-form");
  const error = $("attach-error");
  showError(error, null);
  const file = form.elements.file.files[0];
  if (!file) {
    showError(error, "Choose a file to upload first.");
    form.elements.file.focus();
    return;
  }
  const maxBytes = Number(form.elements.file.dataset.maxBytes);
  if (file.size > maxBytes) {
    showError(error, `${file.name} is ${Math.ceil(file.size / 1024)} KB; the limit is ${Math.floor(maxBytes / 1024)} KB. Split it into smaller files.`);
    return;
  }
  try {
    await api("POST", `${path}/attachments`, {
      body: { filename: file.name, media_type: file.type || "application/octet-stream", content_base64: await fileAsBase64(file) },
    });
    form.reset();
    state.case = await api("GET", path);
    render();
    await loadTimeline();
    announce(`Attached ${file.name}.`);
  } catch (err) {
    showError(error, err);
  }
}

// -- timeline ---------------------------------------------------------------------------------

const DESCRIBE = {
  "case:case:received": (p) => `Request taken in (${words(p.request_type)}, ${words(p.legal_process)})`,
  "case:attachment:added": (p) => `Attachment added: ${p.filename}`,
  "case:case:approved": () => "Approved",
  "case:case:partially_approved": () => "Partially approved",
  "case:case:rejected": () => "Rejected",
  "case:case:appealed": (p) => `Appeal upheld: ${p.reason}`,
  "case:action:converted": (p) => `Demand "${words(p.requested_action)}" carried out as: ${p.applied_action}`,
  "case:account:action_refused": (p) => `Account action refused for ${p.account_id} (holder based in ${p.account_territory || "an unknown territory"})`,
  "case:account:suspended": (p) => `Account ${p.account_id} suspended`,
  "case:account:reinstated": (p) => `Account ${p.account_id} reinstated (${p.via})`,
  "case:disclosure:created": (p) => `Disclosure package created (${p.records} participant record(s))`,
  "case:disclosure:exported": (p) => `Disclosure package exported (${p.records} participant record(s))`,
  "policy:restriction:activated": (p) => `Restriction ${p.restriction_id} in force for ${(p.jurisdiction || []).join(", ")} on ${p.scope}, until ${fmtTime(p.valid_until)}`,
  "policy:restriction:lifted": (p) => `Restriction ${p.restriction_id} lifted`,
  "policy:restriction:expired": (p) => `Restriction ${p.restriction_id} expired`,
  "report:notice:exported": () => "Public notice exported",
};

async function loadTimeline() {
  const list = $("timeline");
  const error = $("timeline-error");
  let body;
  try {
    body = await api("GET", `${path}/timeline`);
  } catch (err) {
    showError(error, err);
    return;
  }
  showError(error, null);
  if (!body.entries.length) {
    list.replaceChildren(el("li", { class: "muted" }, "No entries yet."));
    return;
  }
  list.replaceChildren(
    ...body.entries.map((e) => {
      const describe = DESCRIBE[e.tag] || (() => e.tag);
      return el(
        "li",
        { dataset: { tag: e.tag, seq: String(e.seq) } },
        el("span", { class: "timeline-when" }, fmtTime(e.at)),
        el("span", { class: "timeline-what" }, describe(e.payload)),
        el("span", { class: "timeline-who" }, `by ${e.actor}`),
        el(
          "details",
          { class: "timeline-entry" },
          el("summary", {}, `Entry #${e.seq} (${e.tag})`),
          el("pre", { class: "payload" }, JSON.stringify({ payload: e.payload, prev_hash: e.prev_hash, hash: e.hash }, null, 2)),
        ),
      );
    }),
  );
  if (body.truncated) list.append(el("li", { class: "muted" }, "Only the first 1000 entries are shown."));
}

// -- the page ---------------------------------------------------------------------------------

function render() {
  const c = state.case;
  renderRecord(c);
  renderRule(c, state.me);
  renderDecision(c, state.me);
  renderAttachments(c);
}

boot(async (me) => {
  state.me = me;
  try {
    state.case = await api("GET", path);
  } catch (err) {
    showError($("case-error"), err);
    return;
  }
  $("case-content").hidden = false;
  render();
  const form = $("decision-form");
  form.addEventListener("change", (event) => {
    if (["decision", "approve"].includes(event.target.name)) syncDecisionFields();
  });
  form.addEventListener("submit", submitDecision);
  if (can(me, "cases.attach")) {
    $("attach-form").hidden = false;
    $("attach-form").addEventListener("submit", submitAttachment);
  }
  await Promise.all([loadImpact(), loadTimeline()]);
});
