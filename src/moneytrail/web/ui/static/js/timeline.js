// A subject's payments above the platform sessions of its linked referral accounts, on one
// time axis (ECharts): a payment made while a live session ran stands out at a glance.

import { get } from "./api.js";
import { chart, COLORS } from "./charts.js";
import { $, clear, el, money, score, table, when } from "./dom.js";
import { runPage } from "./layout.js";

const id = $("#timeline-page").dataset.subject;
const ROWS = ["sessions", "logins"];

function paymentPoint(e, aligned) {
  const inSession = aligned.has(`${e.provider}:${e.record_id}`);
  return {
    value: [e.at, Math.max(0.01, e.amount_usd || 0.01)],
    symbolSize: Math.max(6, Math.min(24, 4 + Math.log10(1 + (e.amount_usd || 0)) * 4)) + (inSession ? 4 : 0),
    itemStyle: {
      color: e.flagged ? COLORS.flagged : COLORS.plain, opacity: e.flagged ? 0.95 : 0.6,
      // a payment made during a linked platform session gets a green ring
      borderColor: inSession ? COLORS.session : undefined, borderWidth: inSession ? 3 : 0,
    },
    event: e,
  };
}

function sessionBar(params, api) {
  const start = api.coord([api.value(0), api.value(2)]);
  const end = api.coord([api.value(1), api.value(2)]);
  const height = api.size([0, 1])[1] * 0.5;
  return {
    type: "rect",
    shape: { x: start[0], y: start[1] - height / 2, width: Math.max(3, end[0] - start[0]), height },
    style: api.style({ fill: COLORS.session }),
  };
}

function tooltip(p) {
  const e = p.data.event;
  if (!e) return "";
  const lines = [`<b>${e.label.replace(/[<>&]/g, "")}</b>`, when(e.at)];
  if (e.kind === "payment") {
    lines.push(`${e.direction} ${money(e.amount_usd, true)} · score ${score(e.score)}`);
    if (e.counterparty_subject_id) lines.push(`counterparty ${e.counterparty_subject_id}`);
    lines.push(`${e.provider}:${e.record_id}`);
  } else {
    if (e.end) lines.push(`until ${when(e.end)}`);
    if (e.platform) lines.push(`${e.platform} ${e.report_id || ""}`);
    if (e.aligned_with.length) lines.push(`aligned payments: ${e.aligned_with.length}`);
  }
  return lines.join("<br>");
}

function draw(events) {
  const payments = events.filter((e) => e.kind === "payment");
  const aligned = new Set(events.flatMap((e) => e.aligned_with || []));
  const sent = payments.filter((e) => e.direction === "sent").map((e) => paymentPoint(e, aligned));
  const received = payments.filter((e) => e.direction !== "sent").map((e) => paymentPoint(e, aligned));
  const sessions = events.filter((e) => e.kind === "session").map((e) => ({
    value: [e.at, e.end || e.at, 0], event: e,
  }));
  const logins = events.filter((e) => e.kind === "login").map((e) => ({ value: [e.at, 1], event: e }));
  // Both rows share one time range, so a session sits exactly under the payments it ran beside.
  const times = events.flatMap((e) => [e.at, e.end].filter(Boolean)).map((t) => new Date(t).getTime());
  const pad = times.length ? Math.max(3600e3, (Math.max(...times) - Math.min(...times)) * 0.02) : 0;
  const range = times.length ? { min: Math.min(...times) - pad, max: Math.max(...times) + pad } : {};
  const quiet = sessions.length + logins.length === 0;
  const c = chart($("#timeline"));
  c.setOption({
    animation: false,
    tooltip: { trigger: "item", formatter: tooltip },
    legend: { top: 0, data: ["sent", "received", "sessions", "logins"] },
    axisPointer: { link: [{ xAxisIndex: "all" }] },
    grid: [{ left: 70, right: 30, top: 30, height: "52%" }, { left: 70, right: 30, top: "70%", height: "14%" }],
    xAxis: [
      { type: "time", gridIndex: 0, ...range },
      { type: "time", gridIndex: 1, ...range, axisLabel: { show: false } },
    ],
    yAxis: [
      { type: "log", gridIndex: 0, name: "USD", nameLocation: "middle", nameGap: 50, min: 1 },
      { type: "category", gridIndex: 1, data: ROWS },
    ],
    dataZoom: [
      { type: "inside", xAxisIndex: [0, 1] },
      { type: "slider", xAxisIndex: [0, 1], bottom: 8, height: 22 },
    ],
    graphic: quiet ? [{ type: "text", left: "center", top: "76%", style: {
      text: "No platform session or login of a linked referral account", fill: "#8a96a3", fontSize: 13 } }] : [],
    series: [
      // Shape says the direction; colour says flagged (red) or not (grey).
      { name: "sent", type: "scatter", xAxisIndex: 0, yAxisIndex: 0, data: sent, symbol: "circle", itemStyle: { color: "#6b7785" } },
      { name: "received", type: "scatter", xAxisIndex: 0, yAxisIndex: 0, data: received, symbol: "diamond", itemStyle: { color: "#6b7785" } },
      { name: "sessions", type: "custom", xAxisIndex: 1, yAxisIndex: 1, renderItem: sessionBar, data: sessions,
        encode: { x: [0, 1], y: 2 }, itemStyle: { color: COLORS.session } },
      { name: "logins", type: "scatter", xAxisIndex: 1, yAxisIndex: 1, data: logins, symbol: "triangle",
        symbolSize: 9, itemStyle: { color: COLORS.login } },
    ],
  });
  window.mtTimelineDrawn = { payments: payments.length, sessions: sessions.length, logins: logins.length };
}

runPage(async () => {
  const out = await get(`/subjects/${encodeURIComponent(id)}/timeline`);
  const payments = out.events.filter((e) => e.kind === "payment");
  const sessions = out.events.filter((e) => e.kind !== "payment");
  $("#t-summary").textContent = `${payments.length} payments · ${sessions.length} platform events`
    + (out.truncated ? " · the oldest were left out (limit reached)" : "");
  draw(out.events);
  const aligned = out.events.filter((e) => e.kind === "session" && e.aligned_with.length);
  clear($("#t-aligned"), table([
    ["Session", (e) => `${e.platform || ""} ${e.report_id || ""} #${e.session_seq ?? ""}`],
    ["Kind", (e) => e.session_kind || "–"],
    ["Start", (e) => when(e.at)],
    ["End", (e) => when(e.end)],
    ["Aligned payments", (e) => el("code", {}, e.aligned_with.join(", "))],
  ], aligned, { empty: "No payment of this subject falls within a linked platform session." }));
  document.body.dataset.timelineDrawn = "1";
});
