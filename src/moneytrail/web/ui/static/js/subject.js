// The subject page: who this is across providers, why it scored, where it sits in the
// network, and the cases that hold it. One GET /subjects/{id}; the API audits the read.

import { get } from "./api.js";
import { chart, COLORS } from "./charts.js";
import { $, badge, clear, el, kv, link, money, num, roleBadge, score, stateBadge, table, when } from "./dom.js";
import { runPage } from "./layout.js";

const id = $("#subject").dataset.subject;

function sourcesCell(indicator) {
  return el("ul", { class: "sources" }, indicator.sources.map((s) =>
    el("li", { title: s.tag }, `${s.agency}, ${s.document} (${s.year})`)));
}

/** Month by month: the highest score of its payments, and how many were flagged. */
function monthlyChart(given) {
  const node = $("#s-history");
  if (!given.length) { node.replaceWith(el("p", { class: "muted" }, "No scored payments.")); return; }
  // Every month from the first to the last, quiet ones as zero, so gaps show as gaps.
  const byMonth = new Map(given.map((p) => [p.month, p]));
  const points = [];
  let [y, m] = given[0].month.split("-").map(Number);
  const last = given[given.length - 1].month;
  for (;;) {
    const key = `${y}-${String(m).padStart(2, "0")}`;
    points.push(byMonth.get(key) || { month: key, max_score: null, payments: 0, flagged: 0, total_usd: 0 });
    if (key >= last || points.length > 240) break;
    [y, m] = m === 12 ? [y + 1, 1] : [y, m + 1];
  }
  chart(node).setOption({
    animation: false,
    grid: { left: 36, right: 36, top: 28, bottom: 24 },
    tooltip: { trigger: "axis" },
    legend: { top: 0, data: ["highest payment score", "flagged payments"] },
    xAxis: { type: "category", data: points.map((p) => p.month) },
    yAxis: [{ type: "value", min: 0, max: 1 }, { type: "value", minInterval: 1, splitLine: { show: false } }],
    series: [
      { name: "highest payment score", type: "line", data: points.map((p) => p.max_score), color: COLORS.accent, symbolSize: 5, connectNulls: false },
      { name: "flagged payments", type: "bar", yAxisIndex: 1, data: points.map((p) => p.flagged), color: COLORS.flagged, barMaxWidth: 14 },
    ],
  });
}

/** A number the API sends as text ("0.8333333333") shown to three decimals; other text as is. */
function value(text) {
  const n = Number(text);
  return text !== "" && Number.isFinite(n) && !Number.isInteger(n) ? n.toFixed(3) : text;
}

function networkValue(key, v) {
  if (typeof v !== "number") return String(v);
  if (key.endsWith("_usd")) return money(v);
  return Number.isInteger(v) ? num(v) : v.toFixed(3);
}

/** Identifiers by kind, the most used first; a kind with many values (devices, IPs) is cut to
 * its top few until the analyst asks for all. */
function identifiers(items, all = false) {
  const PER_KIND = 4;
  const byKind = new Map();
  for (const i of [...items].sort((a, b) => b.records - a.records)) {
    if (!byKind.has(i.kind)) byKind.set(i.kind, []);
    byKind.get(i.kind).push(i);
  }
  const shown = [...byKind.values()].flatMap((list) => (all ? list : list.slice(0, PER_KIND)));
  const hidden = items.length - shown.length;
  clear($("#s-identifiers"), table([
    ["Kind", (i) => i.kind],
    ["Value", (i) => el("code", {}, i.value)],
    ["Providers", (i) => i.providers.join(", ")],
    ["Records", (i) => num(i.records), { num: true }],
  ], shown, { empty: "No identifier." }),
  hidden > 0 ? el("button", { type: "button", class: "link", onclick: () => identifiers(items, true) },
    `Show all ${items.length} identifiers (${hidden} more used once or twice)`) : "");
}

function render(s) {
  document.title = `${s.subject_id} · moneytrail`;
  $("#s-name").textContent = s.name || "";
  clear($("#s-badges"), roleBadge(s.role), " ", s.flagged ? badge("flagged", "flagged") : badge("not flagged"),
    " ", s.countries.map((c) => badge(c, "country")));
  clear($("#s-score"), kv([
    ["Score", el("strong", {}, score(s.score))],
    ["Before the network stage", score(s.score_before_network)],
    ["Role scores", Object.entries(s.role_scores).map(([r, v]) => `${r} ${score(v)}`).join(" · ")],
    ["Reasons", s.reasons.map((r) => badge(r, "reason"))],
    ["Community", s.community_id ? link(`/network?community=${encodeURIComponent(s.community_id)}`, s.community_id) : "–"],
  ]));
  monthlyChart(s.monthly);
  clear($("#s-runs"), s.score_history.length > 0 ? table([
    ["Run", (r) => r.run_id, { num: true }],
    ["Synchronised", (r) => when(r.at)],
    ["Role", (r) => roleBadge(r.role)],
    ["Score", (r) => score(r.score), { num: true }],
    ["Flagged", (r) => (r.flagged ? badge("flagged", "flagged") : "no")],
  ], s.score_history) : el("p", { class: "muted" }, "Not in any synchronised run."));

  clear($("#s-cases"), table([
    ["Case", (c) => link(`/cases/${encodeURIComponent(c.ref)}`, c.ref)],
    ["State", (c) => stateBadge(c.state)],
    ["Title", (c) => c.title],
    ["Assignee", (c) => c.assignee || "–"],
  ], s.cases, { empty: "In no case." }));
  clear($("#s-referrals"), table([
    ["Referral", (r) => `${r.referral_provider} ${r.referral_record_id}`],
    ["Platform", (r) => r.platform || "–"],
    ["Account", (r) => r.account_id || "–"],
    ["Linked by", (r) => r.via],
    ["Evidence", (r) => el("span", { class: "small" }, r.evidence)],
  ], s.referrals, { empty: "No platform referral is linked." }));

  clear($("#s-indicators"), table([
    ["Id", (i) => badge(i.id, "reason")],
    ["Indicator", (i) => i.title],
    ["Level", (i) => i.level],
    ["Value", (i) => value(i.value), { num: true }],
    ["Threshold", (i) => i.threshold],
    ["Weight", (i) => i.weight.toFixed(2), { num: true }],
    ["Sources", sourcesCell],
  ], s.indicators, { empty: "No indicator fired." }));

  identifiers(s.identifiers);

  const net = Object.entries(s.network).filter(([, v]) => v !== null && v !== "");
  clear($("#s-network"), net.length ? kv(net.map(([k, v]) => [k.replaceAll("_", " "), networkValue(k, v)]))
    : el("p", { class: "muted" }, "Not in the payment network."));

  clear($("#s-records"), s.records_by_provider.map((p) => el("details", { class: "provider" },
    el("summary", {}, el("strong", {}, p.provider), ` ${num(p.records)} records`),
    table([
      ["Record", (r) => el("code", {}, r.record_id)],
      ["Side", (r) => `${r.party} (${r.side})`],
      ["Name", (r) => r.name || "–"],
      ["Country", (r) => r.country || "–"],
      ["Account", (r) => r.account || "–"],
      ["Time", (r) => when(r.ts_utc)],
      ["USD", (r) => money(r.amount_usd, true), { num: true }],
    ], p.items))));
  const first = $("#s-records details");
  if (first) first.open = true;
}

runPage(async () => {
  render(await get(`/subjects/${encodeURIComponent(id)}`));
});
