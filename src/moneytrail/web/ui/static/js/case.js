// One case: its facts, the moves its state may make, assignment (supervisors), comments,
// evidence, the audit history, and the goAML and case reports. Every change is a POST the
// API audits; the page redraws from the case the API answers with.

import { ApiError, download, get, post } from "./api.js";
import { $, clear, el, flash, formValues, kv, roleBadge, score, stateBadge, subjectLink, table, when } from "./dom.js";
import { can, runPage } from "./layout.js";

const ref = $("#case").dataset.ref;
const path = `/cases/${encodeURIComponent(ref)}`;

function attachmentRef(a) {
  if (a.kind === "subject") return subjectLink(a.ref);
  return el("code", {}, a.ref);
}

const shown = (v) => (v === null || v === undefined || v === "" ? "–" : typeof v === "object" ? JSON.stringify(v) : String(v));

/** What an audit entry changed, as "state: new → in_review"; a creation lists what it set. */
function change(h) {
  const before = h.before && typeof h.before === "object" ? h.before : null;
  const after = h.after && typeof h.after === "object" ? h.after : null;
  if (after && !before) return Object.entries(after).map(([k, v]) => `${k} ${shown(v)}`).join(", ");
  if (after && before) {
    return Object.keys(after).filter((k) => shown(before[k]) !== shown(after[k]))
      .map((k) => `${k}: ${shown(before[k])} → ${shown(after[k])}`).join(", ");
  }
  return h.after !== null && h.after !== undefined ? shown(h.after) : "";
}

function historyLine(h) {
  return el("li", {}, el("span", { class: "muted small" }, when(h.at)), " ", el("strong", {}, h.actor), " ",
    h.action, " ", el("span", { class: "small" }, change(h)));
}

let showReads = false;

function render(c) {
  document.title = `${c.ref} · moneytrail`;
  $("#c-title").textContent = c.title;
  clear($("#c-badges"), stateBadge(c.state), " ", roleBadge(c.role));
  $("#c-facts").replaceChildren(...kv([
    ["State", stateBadge(c.state)],
    ["Assignee", c.assignee || "nobody"],
    ["Kind", c.kind],
    ["Score", score(c.score)],
    ["Community", c.community_id ? el("a", { href: `/network?community=${encodeURIComponent(c.community_id)}` }, c.community_id) : "–"],
    ["Opened", when(c.created_at)],
    ["Updated", when(c.updated_at)],
  ]).childNodes);
  const select = $("#state-select");
  clear(select, c.next_states.map((s) => el("option", { value: s }, s.replace("_", " "))));
  // Offer a move forward first; going back to "new" stays one click away.
  const forward = c.next_states.find((s) => s !== "new");
  if (forward) select.value = forward;
  $("#state-form").hidden = !c.next_states.length;
  clear($("#c-subjects"), el("ul", { class: "plain" }, c.subject_ids.map((s) => el("li", {}, subjectLink(s), " · ",
    el("a", { href: `/network?subject=${encodeURIComponent(s)}` }, "network"), " · ",
    el("a", { href: `/subjects/${encodeURIComponent(s)}/timeline` }, "timeline")))));
  clear($("#c-comments"), c.comments.length
    ? el("ul", { class: "comments" }, c.comments.map((m) => el("li", {},
      el("div", { class: "muted small" }, `${m.author} · ${when(m.at)}`), el("div", { class: "text" }, m.text))))
    : el("p", { class: "muted" }, "No comment yet."));
  clear($("#c-attachments"), table([
    ["Kind", (a) => a.kind],
    ["Reference", attachmentRef],
    ["Note", (a) => a.note || "–"],
    ["Added by", (a) => a.added_by || "–"],
    ["When", (a) => when(a.at)],
  ], c.attachments, { empty: "No evidence attached." }));
  // Reads of the case are audited too; they are hidden unless asked for, so changes stand out.
  const reads = c.history.filter((h) => h.action.endsWith(".read"));
  const lines = showReads ? c.history : c.history.filter((h) => !h.action.endsWith(".read"));
  clear($("#c-history"), lines.length ? el("ul", { class: "history" }, lines.map(historyLine))
    : el("p", { class: "muted" }, "No recorded change."),
  reads.length ? el("label", { class: "small" }, el("input", { type: "checkbox", checked: showReads,
    onchange: (e) => { showReads = e.target.checked; render(c); } }), ` show ${reads.length} reads`) : "");
  $("#case").dataset.state = c.state;
}

function bind(form, route, after = () => {}) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const body = formValues(form);
      render(await post(`${path}/${route}`, body));
      after(form);
      flash("Saved.", "ok");
    } catch (err) {
      flash(err instanceof ApiError && err.status === 409 ? `Not allowed: ${err.message}` : err.message);
    } finally {
      button.disabled = false;
    }
  });
}

runPage(async (user) => {
  const c = await get(path);
  render(c);
  bind($("#state-form"), "state");
  bind($("#comment-form"), "comments", (f) => f.reset());
  bind($("#attach-form"), "attachments", (f) => f.reset());
  if (can(user, "assign_case")) {
    $("#assign-form").hidden = false;
    bind($("#assign-form"), "assign", (f) => f.reset());
  }
  if (!can(user, "edit_case")) for (const f of ["#state-form", "#comment-form", "#attach-form"]) $(f).hidden = true;
  $("#goaml").addEventListener("click", async (event) => {
    event.preventDefault();
    try {
      await download(`${path}/report/goaml`, `${ref}-goaml.xml`);
    } catch (err) {
      flash(`The goAML report could not be made: ${err.message}`);
    }
  });
});
