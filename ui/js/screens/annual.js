// The annual figures: the tables the US TIP report (1 April – 31 March) and UNODC's Global Report
// (calendar year) ask for, with true counts (the task force's own view; the file that leaves the
// ministry is `harbour report annual --csv`, with small cells suppressed). Every cell is a link to
// the cases it counts.

import { call } from "../api.js";
import { app } from "../app.js";
import { h, replace } from "../dom.js";
import { day, number, t } from "../i18n.js";
import { codeLabel, loadLists } from "../codes.js";
import { errorBox, field, pageHeader, showError, showNotice } from "../ui.js";

let chosen = null;

export function forget() {
  chosen = null;
}

const TABLE_TITLES = {
  "tip.victims_identified": "ui.annual.tip_victims_identified",
  "tip.victims_referred": "ui.annual.tip_victims_referred",
  "tip.victims_assisted": "ui.annual.tip_victims_assisted",
  "tip.law_enforcement": "ui.annual.tip_law_enforcement",
  "unodc.victims_by_sex_and_age": "ui.annual.unodc_victims_by_sex_and_age",
  "unodc.victims_by_form": "ui.annual.unodc_victims_by_form",
  "unodc.victims_by_citizenship": "ui.annual.unodc_victims_by_citizenship",
  "unodc.persons_prosecuted_convicted": "ui.annual.unodc_persons_prosecuted_convicted",
};

const HEADERS = {
  form_of_exploitation: "ui.annual.form_of_exploitation",
  sex: "ui.annual.sex",
  citizenship: "ui.annual.citizenship",
};

const WORDS = {
  investigated: "ui.annual.investigated",
  prosecuted: "ui.annual.prosecuted",
  convicted: "ui.annual.convicted",
  child: "ui.annual.child",
  adult: "ui.annual.adult",
  age_unknown: "ui.annual.age_unknown",
  sex_and_labour: "code.exploitation_type.sex_and_labour",
  sexual_exploitation: "code.exploitation_type.sexual_exploitation",
  forced_labour: "code.exploitation_type.forced_labour",
  other: "ui.annual.other_form",
  not_recorded: "ui.dashboard.not_recorded",
};

/** A row or column name of a table in the worker's language. */
function label(table, name, isRow) {
  if (WORDS[name]) return t(WORDS[name]);
  if (isRow && table.row_header === "citizenship") return codeLabel("country", name);
  if (table.row_header === "sex" ? isRow : !isRow) return codeLabel("sex", name);
  return name;
}

function thisYear() {
  return new Date().getUTCFullYear();
}

export async function render(root, route, current) {
  const lists = loadLists().catch(() => null);
  if (!chosen) chosen = { period: "tip", year: thisYear() };
  const period = h(
    "select",
    { id: "annual-period" },
    h("option", { value: "tip" }, t("ui.annual.period_tip")),
    h("option", { value: "calendar" }, t("ui.annual.period_calendar")),
  );
  period.value = chosen.period;
  const year = h("select", { id: "annual-year" });
  for (let y = thisYear() + 1; y >= 2000; y -= 1) year.append(h("option", { value: String(y) }, String(y)));
  year.value = String(chosen.year);
  const span = h("p", { id: "annual-span", class: "muted" });
  const error = errorBox("annual-error");
  // Why the tables were opened again instead of a cell's cases (`route.notice`, an error kind).
  const notice = h("div", { id: "annual-notice", class: "notice", role: "status", hidden: true });
  const tables = h("div", { id: "annual-tables", dataset: { state: "loading" } });
  const back = h("button", { id: "annual-back", type: "button", onclick: () => app.navigate({ screen: "dashboard" }) }, t("ui.annual.back"));
  const print = h("button", { id: "annual-print", type: "button", onclick: () => window.print() }, t("ui.dashboard.print"));
  root.append(
    pageHeader(t("ui.annual.title"), t("ui.annual.lead"), back, print),
    h("div", { class: "filters dash-filters" }, field(t("ui.annual.period"), period), field(t("ui.annual.year"), year)),
    span,
    h("p", { class: "notice" }, t("ui.annual.true_counts")),
    notice,
    error,
    tables,
  );

  let asked = 0;
  async function load() {
    const ticket = ++asked;
    tables.dataset.state = "loading";
    try {
      const [report] = await Promise.all([call("annual_figures", { period: chosen.period, year: chosen.year }), lists]);
      if (ticket !== asked || !current()) return;
      showError(error, null);
      showNotice(notice, ticket === 1 ? route.notice : null);
      span.textContent = t("ui.annual.span", { from: day(report.from), to: day(report.to) });
      replace(tables, report.tables.map(tableOf));
      tables.dataset.state = "ready";
    } catch (failure) {
      if (ticket !== asked || !current()) return;
      tables.dataset.state = "failed";
      showError(error, failure);
    }
  }

  function tableOf(table) {
    const cell = (row, column, count) =>
      h(
        "button",
        {
          type: "button",
          class: "figure-link",
          dataset: { table: table.id, row, column, count },
          onclick: () =>
            app.navigate({
              screen: "figure",
              from: "annual",
              table: table.id,
              row,
              column,
              title: `${t(TABLE_TITLES[table.id])}: ${row < table.rows.length ? label(table, table.rows[row], true) : t("ui.dashboard.col_total")} · ${column < table.columns.length ? label(table, table.columns[column], false) : t("ui.dashboard.col_total")}`,
            }),
        },
        number(count),
      );
    const rowTotals = table.cells.map((line) => line.reduce((sum, n) => sum + n, 0));
    const columnTotals = table.columns.map((_, column) => table.cells.reduce((sum, line) => sum + line[column], 0));
    const grand = rowTotals.reduce((sum, n) => sum + n, 0);
    const titleId = `annual-${table.id.replace(/\./g, "-")}`;
    return h(
      "section",
      { class: "panel annual-table", "aria-labelledby": titleId, dataset: { table: table.id } },
      h("h2", { id: titleId }, TABLE_TITLES[table.id] ? t(TABLE_TITLES[table.id]) : table.title),
      h(
        "table",
        { class: "dash-table wide-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, HEADERS[table.row_header] ? t(HEADERS[table.row_header]) : table.row_header),
            table.columns.map((column) => h("th", { scope: "col" }, label(table, column, false))),
            h("th", { scope: "col" }, t("ui.dashboard.col_total")),
          ),
        ),
        h(
          "tbody",
          {},
          table.rows.map((row, r) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, label(table, row, true)),
              table.cells[r].map((count, c) => h("td", {}, cell(r, c, count))),
              h("td", { class: "dash-total" }, cell(r, table.columns.length, rowTotals[r])),
            ),
          ),
        ),
        h(
          "tfoot",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "row" }, t("ui.dashboard.col_total")),
            columnTotals.map((count, c) => h("td", {}, cell(table.rows.length, c, count))),
            h("td", { class: "dash-total" }, cell(table.rows.length, table.columns.length, grand)),
          ),
        ),
      ),
    );
  }

  period.addEventListener("change", () => {
    chosen.period = period.value;
    load();
  });
  year.addEventListener("change", () => {
    chosen.year = Number(year.value);
    load();
  });
  await load();
}
