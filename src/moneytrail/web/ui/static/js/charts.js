// ECharts, served from static/vendor (installed by scripts/web_assets.sh), with the
// workspace's colours and a resize when the window changes.

import * as echarts from "/static/vendor/echarts.esm.min.js";

export { echarts };

export const COLORS = {
  facilitator: "#c0392b",
  consumer: "#2e86c1",
  intermediary: "#d68910",
  none: "#95a5a6",
  flagged: "#c0392b",
  plain: "#7f8c8d",
  session: "#27ae60",
  login: "#8e44ad",
  accent: "#1f4e79",
};

export function chart(node) {
  const c = echarts.init(node, null, { renderer: "canvas" });
  new ResizeObserver(() => c.resize()).observe(node);
  return c;
}
