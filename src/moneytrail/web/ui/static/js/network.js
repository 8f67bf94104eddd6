// The network view (Cytoscape.js): the payment neighbourhood of a subject (?subject=…) or a
// whole community (?community=…). Click a subject to see it and the path from the seed;
// double-click (or "Expand") to add its own neighbours; the filter hides links outside a
// time window or under an amount without asking the server again.

import cytoscape from "/static/vendor/cytoscape.esm.min.js";
import { get } from "./api.js";
import { COLORS } from "./charts.js";
import { $, badge, clear, el, formValues, guard, kv, link, money, num, roleBadge, score } from "./dom.js";
import { runPage } from "./layout.js";

const url = new URLSearchParams(location.search);
const started = performance.now();
let cy;
let pathSeed = null; // the node paths are drawn from

// Labels are cut here rather than by Cytoscape's text-wrap, which measures every label.
const short = (text) => (text.length > 18 ? `${text.slice(0, 17)}…` : text);

// Colour and size are computed once into each node's data: style mappers that are plain
// data fields keep Cytoscape's style cache working, which matters at hundreds of nodes.
const NAME_ALL_UP_TO = 250; // subjects; above this only flagged ones and the seed are labelled
let nameAll = true;

function nodeData(n, extra = {}) {
  const role = n.role || "none";
  return {
    id: n.id, label: short(n.name || n.id), name: n.name, role, score: n.score,
    flagged: n.flagged, hop: n.hop ?? null, seed: Boolean(n.seed), community_id: n.community_id ?? null,
    country: n.country ?? null, color: COLORS[role] || COLORS.none, size: 12 + 18 * (n.score || 0),
    named: nameAll || n.flagged || Boolean(n.seed), ...extra,
  };
}

function edgeData(e) {
  return {
    id: `${e.source}>${e.target}`, source: e.source, target: e.target, count: e.count,
    total_usd: e.total_usd, first: e.first, last: e.last,
    width: Math.max(1, Math.min(10, Math.log10(1 + e.total_usd) * 1.6)),
  };
}

const STYLE = [
  { selector: "node", style: {
    "background-color": "data(color)", width: "data(size)", height: "data(size)",
    "font-size": 9, "text-valign": "bottom", "text-margin-y": 2,
    color: "#333", "min-zoomed-font-size": 7,
    "text-background-color": "#fff", "text-background-opacity": 0.7, "text-background-padding": 1,
  } },
  // Labels cost a text measurement each: a large graph names only its flagged subjects
  // (every subject shows its name in the panel when clicked).
  { selector: "node[?named], node.hover", style: { label: "data(label)" } },
  { selector: "node[?flagged]", style: { "border-width": 3, "border-color": "#641e16" } },
  { selector: "node[?seed]", style: { shape: "star", width: 40, height: 40, "font-weight": "bold", "font-size": 11 } },
  { selector: "node.path-seed", style: { "border-width": 4, "border-color": "#f1c40f" } },
  { selector: "node:selected", style: { "border-width": 4, "border-color": "#f1c40f" } },
  { selector: "edge", style: {
    width: "data(width)", "line-color": "#c2cad2", "target-arrow-color": "#c2cad2",
    "target-arrow-shape": "triangle", "arrow-scale": 0.8, "curve-style": "straight",
  } },
  { selector: ".dim", style: { opacity: 0.12 } },
  { selector: "edge.path", style: { "line-color": "#f39c12", "target-arrow-color": "#f39c12", opacity: 1, "z-index": 10 } },
  { selector: "node.path", style: { opacity: 1, "z-index": 10 } },
  { selector: ".filtered", style: { display: "none" } },
];

/** "rings": the seed in the middle, one ring per hop (fast at hundreds of nodes);
 * "force": force-directed, for a community or a small neighbourhood. */
function layoutFor(kind) {
  if (kind === "force") {
    return { name: "cose", animate: false, randomize: false, nodeRepulsion: () => 9000, idealEdgeLength: () => 70, numIter: 600, fit: true, padding: 20 };
  }
  // Rings by distance from the seed: readable at a glance and fast for hundreds of nodes.
  return {
    name: "concentric", animate: false, fit: true, padding: 20, minNodeSpacing: 18,
    concentric: (n) => 10 - (n.data("hop") ?? 5),
    levelWidth: () => 1,
  };
}

function applyFilter() {
  const f = formValues($("#n-filter"));
  const since = f.since ? new Date(`${f.since}T00:00:00Z`) : null;
  const until = f.until ? new Date(`${f.until}T23:59:59Z`) : null;
  const min = Number(f.min_amount) || 0;
  cy.batch(() => {
    cy.elements().removeClass("filtered");
    for (const e of cy.edges()) {
      const d = e.data();
      const out = d.total_usd < min
        || (since && d.last && new Date(d.last) < since)
        || (until && d.first && new Date(d.first) > until);
      if (out) e.addClass("filtered");
    }
    for (const n of cy.nodes()) {
      const keep = n.data("seed") || n === pathSeed
        || (n.connectedEdges().not(".filtered").length > 0 && (!f.flagged_only || n.data("flagged")));
      if (!keep) n.addClass("filtered");
    }
    cy.nodes(".filtered").connectedEdges().addClass("filtered");
  });
  const shown = cy.nodes().not(".filtered").length;
  $("#n-visible").textContent = `${num(shown)} of ${num(cy.nodes().length)} subjects shown`;
  highlight(cy.$("node:selected")[0]);
}

function clearHighlight() {
  cy.elements().removeClass("dim path");
}

/** Dim everything but the shortest path (any direction of payment) from the path seed to `node`. */
function highlight(node) {
  clearHighlight();
  if (!node || !pathSeed || node === pathSeed) return;
  const visible = cy.elements().not(".filtered");
  const paths = visible.dijkstra({ root: pathSeed, directed: false });
  const path = paths.pathTo(node);
  if (!path.length || paths.distanceTo(node) === Infinity) return;
  cy.batch(() => {
    visible.addClass("dim");
    path.removeClass("dim").addClass("path");
  });
  return path;
}

/** Every flagged subject's path from the seed at once: who the money reaches. */
function highlightAllFlagged() {
  clearHighlight();
  if (!pathSeed) return;
  const visible = cy.elements().not(".filtered");
  const paths = visible.dijkstra({ root: pathSeed, directed: false });
  let union = cy.collection();
  for (const n of visible.nodes("[?flagged]")) {
    if (n !== pathSeed && paths.distanceTo(n) !== Infinity) union = union.union(paths.pathTo(n));
  }
  cy.batch(() => {
    visible.addClass("dim");
    union.union(pathSeed).removeClass("dim").addClass("path");
  });
}

function setPathSeed(node) {
  if (pathSeed) pathSeed.removeClass("path-seed");
  pathSeed = node;
  if (node) node.addClass("path-seed");
}

async function expand(node) {
  const before = cy.nodes().length;
  const out = await get(`/network/${encodeURIComponent(node.id())}`, { hops: 1, max_nodes: 100, p2p_only: $("#n-load").elements.p2p_only.checked });
  const hop = (node.data("hop") ?? 0) + 1;
  const added = cy.collection();
  cy.batch(() => {
    for (const n of out.nodes) {
      if (cy.getElementById(n.id).length) continue;
      added.merge(cy.add({ group: "nodes", data: nodeData(n, { hop, seed: false }), position: { ...node.position() } }));
    }
    for (const e of out.edges) {
      const d = edgeData(e);
      if (!cy.getElementById(d.id).length && cy.getElementById(d.source).length && cy.getElementById(d.target).length) {
        cy.add({ group: "edges", data: d });
      }
    }
  });
  if (added.length) {
    const p = node.position();
    const r = 60 + 8 * added.length;
    added.layout({ name: "circle", animate: false, fit: false, boundingBox: { x1: p.x - r, y1: p.y - r, w: 2 * r, h: 2 * r } }).run();
  }
  applyFilter();
  summary(`expanded ${node.id()}: ${cy.nodes().length - before} new subjects`);
}

function detail(node) {
  const box = $("#n-detail");
  if (!node) {
    clear(box, el("p", { class: "muted" }, "Click a subject to see it; the path from the seed is highlighted. Double-click to expand it."));
    return;
  }
  const d = node.data();
  const id = encodeURIComponent(d.id);
  const edges = node.connectedEdges().not(".filtered");
  const usdIn = edges.filter((e) => e.data("target") === d.id).reduce((s, e) => s + e.data("total_usd"), 0);
  const usdOut = edges.filter((e) => e.data("source") === d.id).reduce((s, e) => s + e.data("total_usd"), 0);
  const path = pathSeed && node !== pathSeed ? cy.$(".path").nodes().map((n) => n.id()) : [];
  clear(box,
    el("h2", {}, d.id),
    el("p", {}, d.name || "", " ", roleBadge(d.role), d.flagged ? badge("flagged", "flagged") : ""),
    kv([
      ["Score", score(d.score)],
      ["Hops from seed", d.hop ?? "–"],
      ["Country", d.country],
      ["Community", d.community_id ? link(`/network?community=${encodeURIComponent(d.community_id)}`, d.community_id) : "–"],
      ["Paid in (shown links)", money(usdIn)],
      ["Paid out (shown links)", money(usdOut)],
    ]),
    path.length ? el("p", { class: "small" }, el("strong", {}, "Path from seed: "), path.join(" → ")) : "",
    el("div", { class: "button-column" },
      el("a", { class: "button", href: `/subjects/${id}` }, "Open subject"),
      el("a", { class: "button", href: `/subjects/${id}/timeline` }, "Timeline"),
      el("button", { type: "button", id: "n-expand", onclick: () => guard(expand(node)) }, "Expand (add its neighbours)"),
      el("button", { type: "button", onclick: () => { setPathSeed(node); highlightAllFlagged(); detail(node); } }, "Paths from here to flagged"),
      el("a", { class: "button", href: `/network?subject=${id}` }, "Centre the view on it")));
}

function summary(extra = "") {
  const n = cy.nodes().length;
  const e = cy.edges().length;
  const usd = cy.edges().reduce((s, x) => s + x.data("total_usd"), 0);
  $("#n-summary").textContent = `${num(n)} subjects · ${num(e)} links · ${money(usd)}${extra ? ` · ${extra}` : ""}`;
}

function draw(nodes, edges, { layout, seedId }) {
  nameAll = nodes.length <= NAME_ALL_UP_TO;
  const elements = [
    ...nodes.map((n) => ({ group: "nodes", data: nodeData(n) })),
    ...edges.filter((e) => e.source !== e.target).map((e) => ({ group: "edges", data: edgeData(e) })),
  ];
  const t0 = performance.now();
  cy = cytoscape({
    container: $("#cy"), elements, style: STYLE, layout: layoutFor(layout),
    minZoom: 0.05, maxZoom: 4, textureOnViewport: nodes.length > 300,
    hideEdgesOnViewport: nodes.length > 800,
  });
  window.mtCy = cy; // for the browser tests and the console
  // A handful of subjects would be fitted at giant size: keep them at a readable zoom.
  cy.ready(() => { if (cy.zoom() > 1.4) { cy.zoom(1.4); cy.center(); } });
  cy.on("tap", "node", (evt) => { highlight(evt.target); detail(evt.target); });
  cy.on("tap", (evt) => { if (evt.target === cy) { clearHighlight(); detail(null); } });
  cy.on("mouseover", "node", (evt) => evt.target.addClass("hover"));
  cy.on("mouseout", "node", (evt) => evt.target.removeClass("hover"));
  cy.on("dbltap", "node", (evt) => guard(expand(evt.target)));
  setPathSeed(seedId ? cy.getElementById(seedId) : null);
  summary();
  $("#n-visible").textContent = `${num(nodes.length)} of ${num(nodes.length)} subjects shown`;
  // Report when the graph is on screen (two frames after layout): the browser tests and
  // bench/ui_render.py read this.
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const now = performance.now();
    // since_navigation_ms: from the click that opened the page to the graph on screen;
    // draw_ms: layout and drawing only, after the API answered.
    window.mtNetworkRendered = {
      nodes: cy.nodes().length, edges: cy.edges().length, draw_ms: now - t0, since_navigation_ms: now,
      script_ms: now - started,
    };
    document.body.dataset.networkRendered = "1";
  }));
}

function dateRange(edges) {
  const firsts = edges.map((e) => e.first).filter(Boolean).sort();
  const lasts = edges.map((e) => e.last).filter(Boolean).sort();
  const form = $("#n-filter");
  if (firsts.length) { form.elements.since.min = firsts[0].slice(0, 10); form.elements.until.max = lasts[lasts.length - 1].slice(0, 10); }
}

async function loadSubject(subject) {
  const form = $("#n-load");
  for (const key of ["hops", "max_nodes"]) if (url.get(key)) form.elements[key].value = url.get(key);
  form.elements.p2p_only.checked = url.get("p2p_only") === "true";
  const f = formValues(form);
  $("#n-title").textContent = `Network around ${subject}`;
  const out = await get(`/network/${encodeURIComponent(subject)}`, { hops: f.hops, max_nodes: f.max_nodes, p2p_only: f.p2p_only });
  dateRange(out.edges);
  draw(out.nodes, out.edges, { layout: "rings", seedId: out.seed });
  if (out.truncated) summary(`cut at ${num(out.nodes.length)} subjects (nearest and riskiest kept)`);
}

async function loadCommunity(community) {
  $("#n-load").hidden = true;
  const out = await get(`/communities/${encodeURIComponent(community)}`);
  $("#n-title").textContent = `Community ${community}`;
  const members = out.member_list.map((m) => ({ ...m, id: m.subject_id }));
  // Paths start at the riskiest facilitator, else the riskiest member.
  const ranked = [...members].sort((a, b) => (b.role === "facilitator") - (a.role === "facilitator") || b.score - a.score);
  dateRange(out.edges);
  $("#n-layout-form").elements.layout.value = "force";
  draw(members, out.edges, { layout: "force", seedId: ranked.length ? ranked[0].id : null });
}

function relayout(kind) {
  const visible = cy.elements().not(".filtered");
  visible.layout(layoutFor(kind)).run();
}

runPage(async () => {
  const subject = url.get("subject");
  const community = url.get("community");
  if (!subject && !community) {
    const form = $("#n-seed-form");
    form.hidden = false;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      location.assign(`/network?subject=${encodeURIComponent(form.elements.subject.value.trim())}`);
    });
    return;
  }
  $("#n-layout").hidden = false;
  $("#n-filter").addEventListener("input", () => applyFilter());
  $("#n-filter").addEventListener("submit", (e) => e.preventDefault());
  $("#n-layout-form").elements.layout.addEventListener("change", (e) => relayout(e.target.value));
  $("#n-load").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = formValues(e.target);
    const next = new URLSearchParams({ subject, hops: f.hops, max_nodes: f.max_nodes });
    if (f.p2p_only) next.set("p2p_only", "true");
    location.assign(`/network?${next}`);
  });
  if (subject) await loadSubject(subject);
  else await loadCommunity(community);
});
