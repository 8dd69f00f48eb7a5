// The intake form: POST /api/v1/cases with the request as the authority made it, then upload
// each attachment, then open the new case.
import { api, boot, el, fileAsBase64, showError, utcFromLocalInput, utcNowForInput } from "./core.js";

const form = document.getElementById("intake-form");
const error = document.getElementById("intake-error");
const targets = document.getElementById("targets");

function addTarget() {
  const index = targets.querySelectorAll(".target-row").length;
  const first = targets.querySelector(".target-row");
  const row = first.cloneNode(true);
  for (const node of row.querySelectorAll("[id]")) node.id = node.id.replace(/-\d+$/, `-${index}`);
  for (const label of row.querySelectorAll("label")) {
    label.htmlFor = label.htmlFor.replace(/-\d+$/, `-${index}`);
    label.textContent = label.textContent.replace(/^Target \d+/, `Target ${index + 1}`);
  }
  row.querySelector("input").value = "";
  row.querySelector("select").selectedIndex = 0;
  targets.append(row);
  row.querySelector("select").focus();
}

// A problem with one field: marked invalid and focused; collect() throws it.
function fieldProblem(input, text) {
  input.setAttribute("aria-invalid", "true");
  input.focus();
  return new Error(text);
}

function collect() {
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  const f = form.elements;
  const name = f.authority_name.value.trim();
  if (!name) throw fieldProblem(f.authority_name, "Enter the authority's name.");
  const country = f.country.value.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(country)) throw fieldProblem(f.country, "Enter the requesting country as two letters, e.g. CN.");
  const jurisdiction = f.jurisdiction.value.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
  if (!jurisdiction.length) throw fieldProblem(f.jurisdiction, "Enter the jurisdiction the authority speaks for, e.g. CN.");
  const kinds = [...form.querySelectorAll("select[name=target_kind]")];
  const refs = [...form.querySelectorAll("input[name=target_ref]")];
  const chosen = [];
  refs.forEach((input, i) => {
    if (input.value.trim()) chosen.push({ kind: kinds[i].value, ref: input.value.trim() });
  });
  if (!chosen.length) throw fieldProblem(refs[0], "Enter at least one target: a meeting, series or account id, or an invitation URL.");
  const received = utcFromLocalInput(f.received_at.value);
  if (!received) throw fieldProblem(f.received_at, "Enter when the request was received (UTC).");
  const maxBytes = Number(f.attachments.dataset.maxBytes);
  for (const file of f.attachments.files) {
    if (file.size > maxBytes) {
      throw fieldProblem(f.attachments, `${file.name} is ${Math.ceil(file.size / 1024)} KB; the limit is ${Math.floor(maxBytes / 1024)} KB. Split it into smaller files.`);
    }
    if (file.size === 0) throw fieldProblem(f.attachments, `${file.name} is empty; choose the file again.`);
  }
  return {
    authority: { name, agency: f.agency.value.trim(), country, jurisdiction },
    request_type: f.request_type.value,
    legal_process: f.legal_process.value,
    legal_basis: f.legal_basis.value.trim(),
    targets: chosen,
    requested_actions: [...form.querySelectorAll("input[name=requested_actions]:checked")].map((c) => c.value),
    received_at: received,
    deadline: utcFromLocalInput(f.deadline.value),
    non_disclosure_until: utcFromLocalInput(f.non_disclosure_until.value),
    description: f.description.value.trim(),
  };
}

boot(async () => {
  form.elements.received_at.value = utcNowForInput();
  document.getElementById("add-target").addEventListener("click", addTarget);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(error, null);
    let body;
    try {
      body = collect();
    } catch (problem) {
      showError(error, problem.message);
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const created = await api("POST", "/cases", { body });
      const failures = [];
      for (const file of form.elements.attachments.files) {
        try {
          await api("POST", `/cases/${encodeURIComponent(created.id)}/attachments`, {
            body: { filename: file.name, media_type: file.type || "application/octet-stream", content_base64: await fileAsBase64(file) },
          });
        } catch (err) {
          failures.push(`${file.name}: ${err.message}`);
        }
      }
      const target = `/admin/cases/${encodeURIComponent(created.id)}`;
      if (failures.length) {
        // The case exists; say which files did not make it, and where to add them again.
        showError(error, `The case ${created.id} was filed, but these files were not attached: ${failures.join("; ")}. Add them again on the case page.`);
        error.append(" ", el("a", { href: target }, "Open the case"));
        return;
      }
      location.assign(target);
    } catch (err) {
      showError(error, err);
    } finally {
      button.disabled = false;
    }
  });
});
