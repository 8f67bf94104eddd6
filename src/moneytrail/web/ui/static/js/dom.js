// Small DOM and formatting helpers. Text always goes in as text (never as HTML), so nothing
// a provider wrote in a name or memo can run in the analyst's browser.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

export function clear(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
const usdCents = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 2 });
const count = new Intl.NumberFormat("en-US");

export function money(value, cents = false) {
  if (value === null || value === undefined) return "–";
  return (cents || Math.abs(value) < 100 ? usdCents : usd).format(value);
}

export function num(value) {
  return value === null || value === undefined ? "–" : count.format(value);
}

export function score(value) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(3);
}

/** "2024-03-05 14:07" in UTC: analysts compare times across providers, so one zone for all. */
export function when(value, withTime = true) {
  if (!value) return "–";
  const s = String(value).replace("T", " ").replace(/(\.\d+)?(Z|[+-]00:?00)?$/, "");
  return withTime ? s.slice(0, 16) : s.slice(0, 10);
}

export function badge(text, kind = "") {
  return el("span", { class: `badge ${kind}`.trim() }, text);
}

export function roleBadge(role) {
  return badge(role || "none", `role-${role || "none"}`);
}

export function stateBadge(state) {
  return badge((state || "").replace("_", " "), `state-${state}`);
}

export function scoreBar(value) {
  const v = Math.max(0, Math.min(1, Number(value) || 0));
  return el("span", { class: "scorebar", title: score(value) },
    el("span", { class: "label" }, score(value)),
    el("span", { class: "track" }, el("span", { class: "fill", style: `width:${(v * 100).toFixed(0)}%` })));
}

/** A table from rows: columns are [header, (row) => cell, options]. */
export function table(columns, rows, { empty = "Nothing to show.", rowAttrs } = {}) {
  if (!rows.length) return el("p", { class: "muted" }, empty);
  return el("table", { class: "grid" },
    el("thead", {}, el("tr", {}, columns.map(([h, , o]) => el("th", { class: o && o.num ? "num" : "" }, h)))),
    el("tbody", {}, rows.map((row) => el("tr", rowAttrs ? rowAttrs(row) : {},
      columns.map(([, cell, o]) => el("td", { class: o && o.num ? "num" : "" }, cell(row)))))));
}

export function kv(pairs) {
  return el("dl", { class: "kv" }, pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "–")]));
}

export function link(href, text) {
  return el("a", { href }, text);
}

export function subjectLink(id) {
  return id ? link(`/subjects/${encodeURIComponent(id)}`, id) : "–";
}

/** Page numbers under a table. */
export function pager(node, { page, page_size, total }, go) {
  const pages = Math.max(1, Math.ceil(total / page_size));
  clear(node,
    el("button", { type: "button", disabled: page <= 1, onclick: () => go(page - 1) }, "‹ Previous"),
    el("span", { class: "muted" }, ` page ${page} of ${pages} `),
    el("button", { type: "button", disabled: page >= pages, onclick: () => go(page + 1) }, "Next ›"));
}

export function flash(message, kind = "error") {
  const node = $("#flash");
  if (!node) return;
  node.className = `banner ${kind}`;
  node.textContent = message;
  node.hidden = !message;
  if (message && kind !== "error") setTimeout(() => { node.hidden = true; }, 4000);
}

/** Run an action started by a click or a key: its error goes to the banner, not the console. */
export function guard(promise) {
  return Promise.resolve(promise).then(
    (value) => { flash(""); return value; },
    (err) => { flash(err.message || String(err)); },
  );
}

export function formValues(form) {
  const out = {};
  for (const [key, value] of new FormData(form).entries()) out[key] = value;
  for (const box of form.querySelectorAll("input[type=checkbox]")) out[box.name] = box.checked;
  return out;
}
