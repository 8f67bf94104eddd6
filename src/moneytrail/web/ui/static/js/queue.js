// The alert queue: flagged subjects, riskiest first, filtered and sorted by the API.
// Filters live in the address bar, so a reload or the back button keeps them.
// Keys: j/k move, Enter opens the subject, n its network, / the search box.

import { get } from "./api.js";
import { $, $$, badge, clear, el, guard, money, num, pager, roleBadge, scoreBar, stateBadge, when } from "./dom.js";
import { runPage } from "./layout.js";

const FILTERS = ["q", "role", "min_score", "corridor", "channel", "state"];
const PAGE_SIZE = 50;
let selected = 0;
let rows = [];

function params() {
  const url = new URLSearchParams(location.search);
  const out = { sort: url.get("sort") || "-score", page: Number(url.get("page") || 1), page_size: PAGE_SIZE };
  for (const key of FILTERS) if (url.get(key)) out[key] = url.get(key);
  return out;
}

function setParams(changes) {
  const url = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === "" || value === null || value === undefined) url.delete(key);
    else url.set(key, value);
  }
  history.replaceState(null, "", `${location.pathname}?${url}`);
  guard(load());
}

function select(index) {
  if (!rows.length) return;
  selected = Math.max(0, Math.min(rows.length - 1, index));
  rows.forEach((tr, i) => tr.classList.toggle("selected", i === selected));
  rows[selected].scrollIntoView({ block: "nearest" });
}

function open(index, where = "subject") {
  const tr = rows[index];
  if (!tr) return;
  const id = encodeURIComponent(tr.dataset.subject);
  location.assign(where === "network" ? `/network?subject=${id}` : `/subjects/${id}`);
}

function more(list, shown) {
  return list.length > shown ? el("span", { class: "muted small" }, ` +${list.length - shown}`) : "";
}

function row(alert) {
  const c = alert.case;
  return el("tr", { dataset: { subject: alert.subject_id }, tabindex: "-1" },
    el("td", {}, el("a", { href: `/subjects/${encodeURIComponent(alert.subject_id)}` }, alert.subject_id)),
    el("td", {}, alert.name || "–"),
    el("td", {}, roleBadge(alert.role)),
    el("td", { class: "num" }, scoreBar(alert.score)),
    el("td", { class: "chips", title: alert.reasons.join(" ") }, alert.reasons.slice(0, 4).map((r) => badge(r, "reason")),
      more(alert.reasons, 4)),
    el("td", { class: "small nowrap", title: alert.corridors.join(" ") }, alert.corridors.slice(0, 2).join(" "), more(alert.corridors, 2)),
    el("td", { class: "small" }, alert.channels.join(" ")),
    el("td", { class: "num" }, num(alert.payments)),
    el("td", { class: "num" }, money(alert.total_usd)),
    el("td", { class: "small" }, when(alert.last_payment, false)),
    el("td", { class: "nowrap" }, c ? el("a", { href: `/cases/${encodeURIComponent(c.ref)}` }, stateBadge(c.state), " ", c.ref) : "–"));
}

async function load() {
  const p = params();
  for (const th of $$("#queue th[data-sort]")) {
    const key = th.dataset.sort;
    th.classList.toggle("sorted", p.sort.replace("-", "") === key);
    th.dataset.dir = p.sort === key ? "asc" : p.sort === `-${key}` ? "desc" : "";
  }
  const page = await get("/alerts", p);
  const body = $("#queue tbody");
  clear(body, page.items.map(row));
  rows = $$("tr", body);
  rows.forEach((tr, i) => {
    tr.addEventListener("click", () => select(i));
    tr.addEventListener("dblclick", () => open(i));
  });
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: 11, class: "muted" }, "No alert matches these filters.")));
  $("#queue-total").textContent = `${num(page.total)} alerts`;
  pager($("#pager"), page, (n) => setParams({ page: n }));
  select(0);
  document.body.dataset.queueQuery = location.search; // drawn for these filters (the tests wait on it)
}

function bindFilters() {
  const form = $("#filters");
  const url = new URLSearchParams(location.search);
  for (const key of FILTERS) if (form.elements[key]) form.elements[key].value = url.get(key) || "";
  let timer;
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const changes = { page: "" };
      for (const key of FILTERS) changes[key] = form.elements[key].value.trim();
      setParams(changes);
    }, 250);
  });
  form.addEventListener("submit", (e) => e.preventDefault());
  form.addEventListener("reset", () => setTimeout(() => {
    setParams(Object.fromEntries([...FILTERS, "page"].map((k) => [k, ""])));
  }));
  for (const th of $$("#queue th[data-sort]")) {
    th.tabIndex = 0;
    const sortBy = () => {
      const key = th.dataset.sort;
      const current = params().sort;
      // Numbers sort biggest first on the first click; the id sorts A to Z.
      const first = key === "subject_id" ? key : `-${key}`;
      const other = first.startsWith("-") ? key : `-${key}`;
      setParams({ sort: current === first ? other : first, page: "" });
    };
    th.addEventListener("click", sortBy);
    th.addEventListener("keydown", (e) => { if (e.key === "Enter") sortBy(); });
  }
}

function bindKeys() {
  document.addEventListener("keydown", (e) => {
    const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
    if (typing) {
      if (e.key === "Escape") document.activeElement.blur();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j" || e.key === "ArrowDown") { select(selected + 1); e.preventDefault(); }
    else if (e.key === "k" || e.key === "ArrowUp") { select(selected - 1); e.preventDefault(); }
    else if (e.key === "Enter") { open(selected); e.preventDefault(); }
    else if (e.key === "n") { open(selected, "network"); e.preventDefault(); }
    else if (e.key === "/") { $("#f-q").focus(); e.preventDefault(); }
  });
}

runPage(async () => {
  bindFilters();
  bindKeys();
  await load();
});
