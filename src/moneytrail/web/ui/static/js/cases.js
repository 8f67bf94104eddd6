// The case list: filter by state, assignee ("me") and kind; a row opens the case.

import { get } from "./api.js";
import { $, clear, el, guard, num, pager, roleBadge, score, stateBadge, when } from "./dom.js";
import { runPage } from "./layout.js";

const form = $("#case-filters");

async function load(n = 1) {
  const filters = Object.fromEntries(new FormData(form).entries());
  const page = await get("/cases", { ...filters, page: n, page_size: 50 });
  const body = $("#cases tbody");
  clear(body, page.items.map((c) => el("tr", { dataset: { ref: c.ref } },
    el("td", {}, el("a", { href: `/cases/${encodeURIComponent(c.ref)}` }, c.ref)),
    el("td", {}, c.title),
    el("td", {}, c.kind),
    el("td", {}, stateBadge(c.state)),
    el("td", { class: "num" }, score(c.score)),
    el("td", {}, roleBadge(c.role)),
    el("td", {}, c.assignee || "–"),
    el("td", { class: "small" }, c.subject_ids.slice(0, 3).join(", "), c.subject_ids.length > 3 ? ` +${c.subject_ids.length - 3}` : ""),
    el("td", { class: "small" }, when(c.updated_at)))));
  if (!page.items.length) body.append(el("tr", {}, el("td", { colspan: 9, class: "muted" }, "No case matches.")));
  $("#cases-total").textContent = `${num(page.total)} cases`;
  pager($("#cases-pager"), page, (n) => guard(load(n)));
}

runPage(async () => {
  const url = new URLSearchParams(location.search);
  for (const key of ["state", "assignee", "kind"]) if (url.get(key)) form.elements[key].value = url.get(key);
  form.addEventListener("change", () => guard(load(1)));
  await load(1);
});
