// The trends dashboard: flagged activity per month, its breakdown by corridor, channel,
// amount band and typology, and the categories whose share rose beyond past variation
// (`moneytrail.trends`, read through GET /trends).

import { get } from "./api.js";
import { chart, COLORS } from "./charts.js";
import { $, clear, el, money, num } from "./dom.js";
import { runPage } from "./layout.js";

const TITLES = { corridor: "Corridor", channel: "Channel", amount_band: "Amount band", typology: "Typology" };
const TOP = 7;

const month = (m) => String(m).slice(0, 7);

function card(title, ...children) {
  return el("section", { class: "card" }, el("h2", {}, title), ...children);
}

function totalsChart(node, totals) {
  chart(node).setOption({
    animation: false,
    grid: { left: 50, right: 70, top: 30, bottom: 30 },
    tooltip: { trigger: "axis" },
    legend: { top: 0, data: ["flagged payments", "flagged USD"] },
    xAxis: { type: "category", data: totals.map((t) => month(t.month)) },
    yAxis: [{ type: "value", minInterval: 1 }, { type: "value", splitLine: { show: false } }],
    series: [
      { name: "flagged payments", type: "bar", data: totals.map((t) => t.flagged), color: COLORS.flagged, barMaxWidth: 28 },
      { name: "flagged USD", type: "line", yAxisIndex: 1, data: totals.map((t) => Math.round(t.usd)), color: COLORS.accent },
    ],
  });
}

function breakdownChart(node, rows, rising, ordered) {
  const months = [...new Set(rows.map((r) => month(r.month)))].sort();
  const sizes = new Map();
  for (const r of rows) sizes.set(r.category, (sizes.get(r.category) || 0) + r.flagged);
  // Amount bands keep their order (the API sends them so); other categories go largest first.
  const ranked = ordered ? [...sizes.keys()] : [...sizes.entries()].sort((a, b) => b[1] - a[1]).map(([c]) => c);
  const keep = new Set([...ranked.slice(0, TOP), ...ranked.filter((c) => rising.has(c))]);
  const series = new Map();
  for (const r of rows) {
    const name = keep.has(r.category) ? r.category : "other";
    if (!series.has(name)) series.set(name, new Array(months.length).fill(0));
    series.get(name)[months.indexOf(month(r.month))] += r.flagged;
  }
  chart(node).setOption({
    animation: false,
    grid: { left: 50, right: 20, top: 16, bottom: 56 },
    tooltip: { trigger: "axis" },
    legend: { bottom: 0, type: "scroll" },
    xAxis: { type: "category", data: months },
    yAxis: { type: "value", minInterval: 1 },
    series: [...series.entries()].map(([name, data]) => ({
      name: rising.has(name) ? `${name} ▲` : name, type: "bar", stack: "all", data, barMaxWidth: 28,
    })),
  });
}

function changeLine(c) {
  const pct = (v) => `${(100 * v).toFixed(1)}%`;
  return el("li", {}, el("strong", {}, `${TITLES[c.dimension] || c.dimension} ${c.category}`),
    `: ${pct(c.recent_share)} of flagged payments in ${c.recent_months} (${num(c.recent_count)})`,
    el("span", { class: "muted" }, c.new ? ", new" : `, up from ${pct(c.past_mean)} over the ${c.past_months} months before`));
}

function render(data) {
  const root = $("#trends");
  const totals = data.totals || [];
  const breakdown = data.breakdown || [];
  const changes = data.changes || [];
  const flagged = totals.reduce((s, t) => s + t.flagged, 0);
  const usd = totals.reduce((s, t) => s + t.usd, 0);
  $("#tr-summary").textContent = totals.length
    ? `${totals.length} months · ${num(flagged)} flagged payments · ${money(usd)}` : "";
  const parts = [];
  parts.push(card("What changed", changes.length
    ? el("ul", { class: "trend-changes" }, changes.map(changeLine))
    : el("p", { class: "muted" }, data.note || data.message || "No category rose beyond its past variation.")));
  const totalsNode = el("div", { class: "chart" });
  parts.push(card("Flagged activity per month", totalsNode));
  const charts = [];
  for (const dimension of Object.keys(TITLES)) {
    const rows = breakdown.filter((r) => r.dimension === dimension);
    if (!rows.length) continue;
    const node = el("div", { class: "chart" });
    charts.push([node, rows, new Set(changes.filter((c) => c.dimension === dimension).map((c) => c.category)), dimension]);
    parts.push(card(`${TITLES[dimension]}: flagged payments per month`, node));
  }
  clear(root, el("div", { class: "cols" }, parts));
  if (totals.length) totalsChart(totalsNode, totals);
  else totalsNode.replaceWith(el("p", { class: "muted" }, "No flagged payment yet."));
  for (const [node, rows, rising, dimension] of charts) breakdownChart(node, rows, rising, dimension === "amount_band");
}

runPage(async () => {
  const out = await get("/trends");
  if (!out.available) {
    clear($("#trends"), el("p", { class: "notice" }, "Trends are not available on this server."));
    return;
  }
  render(out.data);
  document.body.dataset.trendsDrawn = "1";
});
