// The cases behind one number of the dashboard or of the annual figures: exactly those it
// counted (counted again by the core for the figures on screen), so the list's count is the number.

import { call } from "../api.js";
import { app } from "../app.js";
import { h } from "../dom.js";
import { number, t } from "../i18n.js";
import { codeLabel, loadLists } from "../codes.js";
import { errorBox, pageHeader, showError } from "../ui.js";
import { countsEntries, figureTitle } from "./dashboard.js";

/** Errors that send the person back to the figures, worked out again, instead of an error here. */
const REFRESH = ["figures_changed", "figures_gone"];

export async function render(root, route, current) {
  const lists = loadLists().catch(() => null);
  const back = h(
    "button",
    { id: "figure-back", type: "button", onclick: () => app.navigate({ screen: route.from || "dashboard", ...(route.back || {}) }) },
    route.from === "annual" ? t("ui.figure.back_annual") : t("ui.figure.back"),
  );
  const count = h("p", { id: "figure-count", "aria-live": "polite" });
  const list = h("ul", { id: "figure-list", class: "case-list", "aria-label": t("ui.figure.list_label") });
  const more = h("p", { id: "figure-more", class: "muted", hidden: true });
  const error = errorBox("figure-error");
  const title = route.title || figureTitle(route.key);
  root.append(pageHeader(title, null, back), count, more, error, list);

  let result;
  try {
    result = route.from === "annual"
      ? await call("annual_cell_cases", { table: route.table, row: route.row, column: route.column })
      : await call("figure_cases", { key: route.key, count: route.count ?? null });
    await lists;
  } catch (failure) {
    if (!current()) return;
    if (failure && REFRESH.includes(failure.kind)) {
      // The figures this number was chosen on changed or are gone: they are worked out again
      // and the screen they came from says why, so that the number can be chosen again.
      app.navigate({ screen: route.from === "annual" ? "annual" : "dashboard", notice: failure.kind });
      return;
    }
    showError(error, failure);
    return;
  }
  if (!current()) return;
  const kind = route.from === "annual" ? "cases" : countsEntries(route.key);
  const n = number(result.total);
  count.dataset.total = String(result.total);
  count.textContent =
    kind === "referrals"
      ? t(result.total === 1 ? "ui.figure.count_referral_one" : "ui.figure.count_referrals", { n })
      : kind === "screenings"
        ? t(result.total === 1 ? "ui.figure.count_screening_one" : "ui.figure.count_screenings", { n })
        : t(result.total === 1 ? "ui.figure.count_case_one" : "ui.figure.count_cases", { n });
  if (result.rows.length < result.total) {
    more.hidden = false;
    more.textContent = t("ui.figure.first_rows", { n: number(result.rows.length) });
  }
  const fragment = document.createDocumentFragment();
  for (const row of result.rows) {
    const button = h(
      "button",
      {
        type: "button",
        class: "case-row figure-row",
        dataset: { code: row.code, id: row.case_id, entry: row.entry || null },
        onclick: () => app.navigate({ screen: "case", id: row.case_id }),
      },
      h("span", { class: "case-code" }, row.code),
      h("span", { class: "case-meta" }, h("span", { class: "case-status", dataset: { status: row.status } }, codeLabel("case_status", row.status))),
    );
    fragment.append(h("li", {}, button));
  }
  list.append(fragment);
  const first = list.querySelector(".figure-row");
  if (first) first.focus();
}
