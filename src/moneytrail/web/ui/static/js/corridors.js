// Corridors on a world map (ECharts with the Natural Earth outline served from
// static/vendor, nothing fetched from outside) and the places where facilitators collect.
// Both are shared views: a liaison officer sees them too, without subject ids.

import { get } from "./api.js";
import { chart, COLORS, echarts } from "./charts.js";
import { $, clear, el, guard, money, num, pager, subjectLink, table, when } from "./dom.js";
import { runPage } from "./layout.js";

let mapChart;

async function worldMap() {
  if (!echarts.getMap("world")) {
    const response = await fetch("/static/vendor/world-110m.geojson");
    if (!response.ok) throw new Error("the world map is not installed: run make install");
    const world = await response.json();
    // Antarctica carries no corridor; rings cut at the antimeridian (Russia, Fiji) are joined
    // on one side, else they draw as lines across the whole map.
    world.features = world.features.filter((f) => f.properties.name !== "Antarctica");
    for (const f of world.features) {
      const polygons = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
      for (const ring of polygons.flat()) {
        const lons = ring.map((p) => p[0]);
        if (Math.max(...lons) - Math.min(...lons) > 180) for (const p of ring) if (p[0] < 0) p[0] += 360;
      }
    }
    echarts.registerMap("world", world);
  }
}

function drawMap(corridors, flaggedOnly) {
  const value = (c) => (flaggedOnly ? c.flagged_usd : c.total_usd);
  const located = corridors.filter((c) => c.sender_lat !== null && c.receiver_lat !== null && value(c) > 0);
  const max = Math.max(1, ...located.map(value));
  const ends = new Map();
  for (const c of located) {
    for (const [code, lon, lat] of [[c.sender_country, c.sender_lon, c.sender_lat], [c.receiver_country, c.receiver_lon, c.receiver_lat]]) {
      const e = ends.get(code) || { name: code, value: [lon, lat, 0] };
      e.value[2] += value(c);
      ends.set(code, e);
    }
  }
  mapChart.setOption({
    animation: false,
    tooltip: { trigger: "item", formatter: (p) => (p.seriesType === "lines"
      ? `${p.data.name}<br>${num(p.data.payments)} payments · ${money(p.data.usd)}`
      : `${p.name}<br>${money(p.value[2])} through this country`) },
    geo: { map: "world", roam: true, silent: true, zoom: 1.15, itemStyle: { areaColor: "#eef1f4", borderColor: "#b8c2cc" } },
    series: [
      { type: "lines", coordinateSystem: "geo", zlevel: 1,
        lineStyle: { curveness: 0.25, opacity: 0.7 },
        effect: { show: false },
        data: located.map((c) => ({
          name: `${c.sender_country} → ${c.receiver_country}`,
          coords: [[c.sender_lon, c.sender_lat], [c.receiver_lon, c.receiver_lat]],
          payments: flaggedOnly ? c.flagged_payments : c.payments, usd: value(c),
          lineStyle: { width: 1 + 7 * Math.sqrt(value(c) / max), color: c.flagged_payments ? COLORS.flagged : COLORS.consumer },
        })) },
      { type: "scatter", coordinateSystem: "geo", zlevel: 2, symbolSize: (v) => 5 + 12 * Math.sqrt(v[2] / max / 2),
        itemStyle: { color: COLORS.accent }, label: { show: true, formatter: "{b}", position: "right", fontSize: 10 },
        data: [...ends.values()] },
    ],
  }, true);
}

async function loadCorridors() {
  const flaggedOnly = $("#c-flagged").checked;
  const page = await get("/corridors", { flagged_only: flaggedOnly, page_size: 200 });
  drawMap(page.items, flaggedOnly);
  $("#c-summary").textContent = `${num(page.total)} corridors`;
  clear($("#c-table"), table([
    ["Corridor", (c) => `${c.sender_country} → ${c.receiver_country}`],
    ["Payments", (c) => num(c.payments), { num: true }],
    ["Flagged", (c) => num(c.flagged_payments), { num: true }],
    ["USD", (c) => money(c.total_usd), { num: true }],
    ["Flagged USD", (c) => money(c.flagged_usd), { num: true }],
  ], page.items.slice(0, 25), { empty: "No corridor." }));
}

async function loadPlaces(n = 1) {
  const page = await get("/places", { kind: $("#p-kind").value, page: n, page_size: 25 });
  clear($("#p-table"), table([
    ["#", (p) => p.rank, { num: true }],
    ["Kind", (p) => p.kind],
    ["Place", (p) => p.place],
    ["Country", (p) => p.country || "–"],
    ["Facilitators", (p) => num(p.facilitators), { num: true }],
    ["Payments", (p) => num(p.payments), { num: true }],
    ["USD", (p) => money(p.total_usd), { num: true }],
    ["Active", (p) => el("span", { class: "nowrap" }, `${when(p.first, false).slice(0, 7)} – ${when(p.last, false).slice(0, 7)}`)],
    // null for roles without personal data: the column then says so.
    ["Subjects", (p) => (p.subjects === null ? el("span", { class: "muted" }, "not shared")
      : el("span", { class: "small" }, p.subjects.slice(0, 2).flatMap((s, i) => [i ? ", " : "", subjectLink(s)]),
        p.subjects.length > 2 ? el("span", { class: "muted" }, ` +${p.subjects.length - 2}`) : ""))],
  ], page.items, { empty: "No place." }));
  pager($("#p-pager"), page, (n) => guard(loadPlaces(n)));
}

runPage(async () => {
  mapChart = chart($("#map"));
  await worldMap();
  $("#c-flagged").addEventListener("change", () => guard(loadCorridors()));
  $("#p-kind").addEventListener("change", () => guard(loadPlaces(1)));
  await Promise.all([loadCorridors(), loadPlaces(1)]);
  document.body.dataset.mapDrawn = "1";
});
