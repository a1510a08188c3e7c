// The task force's dashboard over the cases this laptop can read (the ministry sees the nation, a
// clinic its own): plain numbers first, each a link to the cases it counts, then each figure as a
// table with its chart. Filters: period and team. The figures are those of `harbour stats --json`,
// computed by the core in one `dashboard` call (one `stats.view` in the audit log).

import { call } from "../api.js";
import { app } from "../app.js";
import { h, replace } from "../dom.js";
import { day, language, number, t } from "../i18n.js";
import { codeLabel, loadLists } from "../codes.js";
import { barChart, loadChartLibrary } from "../charts.js";
import { dateInput, errorBox, field, pageHeader, showError, showNotice } from "../ui.js";

/** The filters, kept while Harbour is unlocked so the dashboard comes back as it was. */
let filters = { period: "all", from: "", to: "", team: "" };
/** Teams seen in the figures so far (the team filter keeps offering them once one is chosen). */
let knownTeams = new Set();
let charts = [];
/** Draws the charts not drawn yet when their section comes near the screen (see `drawWhenSeen`). */
let watcher = null;
/** Draws every chart not drawn yet (before printing). */
let drawRest = () => {};
// Printing from the keyboard or the window's menu draws them too.
window.addEventListener("beforeprint", () => drawRest());

export function forget() {
  filters = { period: "all", from: "", to: "", team: "" };
  knownTeams = new Set();
  destroyCharts();
}

function destroyCharts() {
  if (watcher) watcher.disconnect();
  watcher = null;
  drawRest = () => {};
  for (const chart of charts) chart.destroy();
  charts = [];
}

/**
 * Draws each section's chart when the section comes near the screen, those on screen at once.
 * A chart's canvas is a bitmap of its own size in the web process, kept while the dashboard is
 * shown: a chart nobody scrolled to costs nothing, and the figures on screen paint sooner. Each
 * section drawn says so (`data-chart="drawn"`); printing draws the rest first.
 */
function drawWhenSeen(sections) {
  const pending = new Set(sections);
  const draw = (section) => {
    if (!pending.delete(section)) return;
    section.chart();
    section.dataset.chart = "drawn";
  };
  const near = window.innerHeight + 200;
  for (const section of sections) {
    const box = section.getBoundingClientRect();
    if (box.top < near && box.bottom > -200) draw(section);
  }
  watcher = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        watcher.unobserve(entry.target);
        draw(entry.target);
      }
    },
    { rootMargin: "200px 0px" },
  );
  for (const section of pending) watcher.observe(section);
  drawRest = () => {
    for (const section of [...pending]) draw(section);
  };
}

/** The groups shown, in order: [group, title key, column key, chart orientation]. */
const GROUPS = [
  ["by_status", "ui.dashboard.by_status", "ui.dashboard.col_status", "horizontal"],
  ["by_identification", "ui.dashboard.by_identification", "ui.dashboard.col_identification", "horizontal"],
  ["new_per_month", "ui.dashboard.new_per_month", "ui.dashboard.col_month", "vertical"],
  ["by_sex", "ui.dashboard.by_sex", "ui.dashboard.col_sex", "horizontal"],
  ["by_age_band", "ui.dashboard.by_age_band", "ui.dashboard.col_age_band", "horizontal"],
  ["by_nationality", "ui.dashboard.by_nationality", "ui.dashboard.col_nationality", "horizontal"],
  ["by_exploitation", "ui.dashboard.by_exploitation", "ui.dashboard.col_exploitation", "horizontal"],
  ["by_labour_sector", "ui.dashboard.by_labour_sector", "ui.dashboard.col_labour_sector", "horizontal"],
  ["referrals_by_type", "ui.dashboard.referrals_by_type", "ui.dashboard.col_service_type", "horizontal"],
  ["referrals_by_outcome", "ui.dashboard.referrals_by_outcome", "ui.dashboard.col_outcome", "horizontal"],
  ["screenings_by_result", "ui.dashboard.screenings_by_result", "ui.dashboard.col_result", "horizontal"],
  ["assisted_by_service", "ui.dashboard.assisted_by_service", "ui.dashboard.col_service_received", "horizontal"],
  ["by_team", "ui.dashboard.by_team", "ui.dashboard.col_team", "horizontal"],
];

/** Groups that count referrals or screenings rather than cases. */
const COUNTS = {
  referrals_by_type: "ui.dashboard.col_referrals",
  referrals_by_outcome: "ui.dashboard.col_referrals",
  screenings_by_result: "ui.dashboard.col_screenings",
};

/**
 * Groups whose rows can count one case more than once (a person with shelter and medical care
 * is under both): their foot is the figure of the people counted once, not the rows' sum.
 */
const FOOTS = { assisted_by_service: ["assisted", "ui.dashboard.assisted_once"] };

/** The plain numbers that ask for attention when not zero. */
const ATTENTION = new Set(["needs_review", "inactive", "unanswered_referrals"]);

/** Values that are not a coded value of a case, and the lists without a `code.*` family elsewhere. */
const SPECIAL = {
  not_recorded: "ui.dashboard.not_recorded",
  no_team: "ui.dashboard.no_team",
  multiple: "ui.dashboard.multiple",
  none: "ui.dashboard.none",
};
const IDENTIFICATION = {
  possible: "code.identification_status.possible",
  presumed: "code.identification_status.presumed",
  identified: "code.identification_status.identified",
  not_a_victim: "code.identification_status.not_a_victim",
};
const LABOUR_SECTOR = {
  agriculture: "code.labour_sector.agriculture",
  aquafarming: "code.labour_sector.aquafarming",
  begging: "code.labour_sector.begging",
  construction: "code.labour_sector.construction",
  domestic_work: "code.labour_sector.domestic_work",
  hospitality: "code.labour_sector.hospitality",
  illicit_activities: "code.labour_sector.illicit_activities",
  manufacturing: "code.labour_sector.manufacturing",
  mining_or_drilling: "code.labour_sector.mining_or_drilling",
  peddling: "code.labour_sector.peddling",
  transportation: "code.labour_sector.transportation",
  other: "code.labour_sector.other",
  not_specified: "code.labour_sector.not_specified",
};
const SCREENING_LEVEL = {
  immediate_danger: "level.immediate_danger",
  refer_now: "level.refer_now",
  follow_up: "level.follow_up",
  no_indicators: "level.no_indicators",
};
const AGE_UNKNOWN = "ui.dashboard.age_unknown";

/** A value of a group in the worker's language. */
export function valueLabel(group, value) {
  if (SPECIAL[value] && !(group === "by_team" && value !== "no_team")) return t(SPECIAL[value]);
  switch (group) {
    case "by_status":
      return codeLabel("case_status", value);
    case "by_identification":
      return IDENTIFICATION[value] ? t(IDENTIFICATION[value]) : value;
    case "by_sex":
      return codeLabel("sex", value);
    case "by_age_band":
      return value === "unknown" ? t(AGE_UNKNOWN) : value;
    case "by_nationality":
      return codeLabel("country", value);
    case "by_exploitation":
      return codeLabel("exploitation_type", value);
    case "by_labour_sector":
      return LABOUR_SECTOR[value] ? t(LABOUR_SECTOR[value]) : value;
    case "referrals_by_type":
    case "assisted_by_service":
      return codeLabel("service_type", value);
    case "referrals_by_outcome":
      // `sent` is a referral recorded with no answer yet, perhaps never sent anywhere (a
      // standalone laptop sends nothing): said as the case page says it, not "Sent".
      return value === "sent" ? t("ui.dashboard.outcome_recorded") : codeLabel("referral_status", value);
    case "screenings_by_result":
      return SCREENING_LEVEL[value] ? t(SCREENING_LEVEL[value]) : value;
    case "new_per_month":
      return monthLabel(value);
    default:
      return value;
  }
}

function monthLabel(value) {
  const match = /^(\d{4})-(\d{2})$/.exec(value);
  if (!match) return value;
  return new Intl.DateTimeFormat(language(), { month: "short", year: "numeric", timeZone: "UTC" }).format(
    new Date(Date.UTC(+match[1], +match[2] - 1, 1)),
  );
}

/** The title of a figure (for the list of its cases). */
export function figureTitle(key) {
  const singles = {
    total: "ui.dashboard.total",
    needs_review: "ui.dashboard.needs_review",
    inactive: "ui.dashboard.inactive",
    unanswered_referrals: "ui.dashboard.unanswered",
    assisted: "ui.dashboard.assisted",
  };
  if (singles[key]) return t(singles[key], { days: number(app.status?.inactive_days ?? 30), n: number(7) });
  const dot = key.indexOf(".");
  const group = key.slice(0, dot);
  const found = GROUPS.find(([name]) => name === group);
  return found ? `${t(found[1])}: ${valueLabel(group, key.slice(dot + 1))}` : key;
}

/** Whether the figure counts referrals or screenings (its list has one line per entry). */
export function countsEntries(key) {
  const group = key.split(".")[0];
  if (group === "unanswered_referrals" || group.startsWith("referrals_")) return "referrals";
  if (group === "screenings_by_result") return "screenings";
  return "cases";
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

/** The period chosen → {from, to} as YYYY-MM-DD ("" for open ends). */
function periodDays(chosen, custom) {
  const today = new Date();
  const utc = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
  const back = (days) => isoDay(new Date(utc.getTime() - days * 86_400_000));
  switch (chosen) {
    case "30_days":
      return { from: back(29), to: isoDay(utc) };
    case "12_months": {
      const start = new Date(Date.UTC(utc.getUTCFullYear() - 1, utc.getUTCMonth(), utc.getUTCDate() + 1));
      return { from: isoDay(start), to: isoDay(utc) };
    }
    case "this_year":
      return { from: `${utc.getUTCFullYear()}-01-01`, to: isoDay(utc) };
    case "last_year":
      return { from: `${utc.getUTCFullYear() - 1}-01-01`, to: `${utc.getUTCFullYear() - 1}-12-31` };
    case "custom":
      return custom;
    default:
      return { from: "", to: "" };
  }
}

function figureLink(key, count) {
  return h(
    "button",
    {
      type: "button",
      class: "figure-link",
      dataset: { key, count },
      "aria-label": t("ui.dashboard.open_cases", { n: number(count), figure: figureTitle(key) }),
      onclick: () => openFigure(key, count),
    },
    number(count),
  );
}

/** Opens the cases behind `key`; `count` is the number on screen, which the list must equal. */
function openFigure(key, count) {
  app.navigate({ screen: "figure", key, count });
}

export async function render(root, route, current) {
  const lists = loadLists().catch(() => null);
  const library = loadChartLibrary();
  const period = h(
    "select",
    { id: "dash-period" },
    h("option", { value: "all" }, t("ui.dashboard.period_all")),
    h("option", { value: "30_days" }, t("ui.dashboard.period_30_days")),
    h("option", { value: "12_months" }, t("ui.dashboard.period_12_months")),
    h("option", { value: "this_year" }, t("ui.dashboard.period_this_year")),
    h("option", { value: "last_year" }, t("ui.dashboard.period_last_year")),
    h("option", { value: "custom" }, t("ui.dashboard.period_custom")),
  );
  period.value = filters.period;
  const from = dateInput("dash-from", filters.from);
  const to = dateInput("dash-to", filters.to);
  const apply = h("button", { id: "dash-apply", type: "button" }, t("ui.dashboard.apply"));
  const custom = h(
    "div",
    { class: "filters dash-custom", hidden: filters.period !== "custom" },
    field(t("ui.dashboard.from"), from),
    field(t("ui.dashboard.to"), to),
    h("div", { class: "actions inline" }, apply),
  );
  const team = h("select", { id: "dash-team" });
  const error = errorBox("dashboard-error");
  // Why the dashboard was opened again instead of a number's cases (`route.notice`: an error
  // kind, figures_changed or figures_gone), said once the figures as they are now are painted.
  const notice = h("div", { id: "dashboard-notice", class: "notice", role: "status", hidden: true });
  const scope = h("p", { id: "dash-scope", class: "muted" });
  const summary = h("section", { id: "dash-summary", class: "dash-summary", "aria-labelledby": "dash-summary-title" });
  const groups = h("div", { id: "dash-groups" });
  const container = h("div", { id: "dashboard", dataset: { state: "loading" } }, summary, groups);

  const print = h(
    "button",
    {
      id: "dashboard-print",
      type: "button",
      onclick: () => {
        drawRest();
        window.print();
      },
    },
    t("ui.dashboard.print"),
  );
  const annual = h(
    "button",
    { id: "open-annual", type: "button", onclick: () => app.navigate({ screen: "annual" }) },
    t("ui.dashboard.annual"),
  );

  root.append(
    pageHeader(t("ui.dashboard.title"), t("ui.dashboard.lead"), annual, print),
    h(
      "div",
      { class: "filters dash-filters", role: "group", "aria-label": t("ui.dashboard.filters") },
      field(t("ui.dashboard.period"), period),
      field(t("ui.dashboard.team"), team),
    ),
    custom,
    scope,
    notice,
    error,
    container,
  );

  function fillTeams() {
    const chosen = filters.team;
    const names = [...knownTeams].sort((a, b) => a.localeCompare(b));
    if (chosen && !names.includes(chosen)) names.push(chosen);
    replace(
      team,
      h("option", { value: "" }, t("ui.dashboard.team_all")),
      names.map((name) => h("option", { value: name }, name === "no_team" ? t("ui.dashboard.no_team") : name)),
    );
    team.value = chosen;
  }
  fillTeams();

  let asked = 0;
  async function load() {
    const ticket = ++asked;
    container.dataset.state = "loading";
    const days = periodDays(filters.period, { from: filters.from, to: filters.to });
    const query = { from: days.from || null, to: days.to || null, team: filters.team || null };
    try {
      const [result, Chart] = await Promise.all([call("dashboard", { query }), library, lists]);
      if (ticket !== asked || !current()) return;
      showError(error, null);
      showNotice(notice, ticket === 1 ? route.notice : null);
      for (const name of Object.keys(result.figures.by_team || {})) knownTeams.add(name);
      fillTeams();
      show(result, Chart);
      // Painted: the frame after the figures went in (the desktop bench waits for this).
      requestAnimationFrame(() =>
        setTimeout(() => {
          if (ticket !== asked || !current()) return;
          container.dataset.state = "ready";
          container.dispatchEvent(new CustomEvent("dashboard-painted", { bubbles: true }));
        }, 0),
      );
    } catch (failure) {
      if (ticket !== asked || !current()) return;
      container.dataset.state = "failed";
      showError(error, failure);
    }
  }

  function show(result, Chart) {
    destroyCharts();
    const f = result.figures;
    const periodText =
      result.from || result.to
        ? t("ui.dashboard.scope_period", { from: result.from ? day(result.from) : "…", to: day(result.to || result.today) })
        : t("ui.dashboard.scope_all");
    scope.textContent = result.team
      ? `${periodText} · ${t("ui.dashboard.scope_team", { team: result.team === "no_team" ? t("ui.dashboard.no_team") : result.team })}`
      : periodText;

    const tile = (key, labelKey, vars, id) =>
      h(
        "div",
        { class: ["dash-tile", ATTENTION.has(key) && f[key] > 0 ? "attention" : null], id },
        figureLink(key, f[key]),
        h("span", { class: "dash-tile-label" }, t(labelKey, vars)),
      );
    const median = f.referral_median_days_to_accept;
    replace(
      summary,
      h("h2", { id: "dash-summary-title" }, t("ui.dashboard.summary")),
      h(
        "div",
        { class: "dash-tiles" },
        tile("total", "ui.dashboard.total", null, "tile-total"),
        tile("needs_review", "ui.dashboard.needs_review", null, "tile-needs-review"),
        tile("inactive", "ui.dashboard.inactive", { days: number(result.inactive_days) }, "tile-inactive"),
        tile("unanswered_referrals", "ui.dashboard.unanswered", { n: number(result.unanswered_days) }, "tile-unanswered"),
        tile("assisted", "ui.dashboard.assisted", null, "tile-assisted"),
        h(
          "div",
          { class: "dash-tile", id: "tile-median" },
          h("span", { class: "dash-median", id: "dash-median" }, median === null || median === undefined ? "–" : number(Math.round(median * 10) / 10)),
          h("span", { class: "dash-tile-label" }, t("ui.dashboard.median_days")),
        ),
      ),
    );

    const sections = [];
    for (const [group, titleKey, columnKey, orientation] of GROUPS) {
      const values = (result.groups.find((g) => g.name === group) || { values: [] }).values;
      const counts = values.map((value) => (f[group] || {})[value] || 0);
      const total = counts.reduce((sum, n) => sum + n, 0);
      const titleId = `dash-${group}-title`;
      const rows = values.map((value, index) =>
        h("tr", {}, h("th", { scope: "row" }, valueLabel(group, value)), h("td", {}, figureLink(`${group}.${value}`, counts[index]))),
      );
      const table = h(
        "table",
        { class: "dash-table", id: `table-${group}` },
        h("caption", { class: "visually-hidden" }, t(titleKey)),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t(columnKey)), h("th", { scope: "col" }, t(COUNTS[group] || "ui.dashboard.col_cases")))),
        h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: "2", class: "muted" }, t("ui.dashboard.nothing")))),
        h(
          "tfoot",
          {},
          FOOTS[group]
            ? h("tr", {}, h("th", { scope: "row" }, t(FOOTS[group][1])), h("td", { class: "dash-people" }, figureLink(FOOTS[group][0], f[FOOTS[group][0]] || 0)))
            : h("tr", {}, h("th", { scope: "row" }, t("ui.dashboard.col_total")), h("td", { class: "dash-total" }, number(total))),
        ),
      );
      const height = orientation === "vertical" ? 220 : Math.max(120, 30 * values.length + 40);
      const canvas = h("canvas", { role: "img", "aria-label": t("ui.dashboard.chart_of", { title: t(titleKey) }) });
      const chartBox = h("div", { class: "dash-chart", dataset: { height: String(height) } }, canvas);
      chartBox.style.height = `${height}px`;
      const section = h(
        "section",
        { class: "panel dash-group", id: `group-${group}`, "aria-labelledby": titleId },
        h("h2", { id: titleId }, t(titleKey)),
        h("div", { class: "dash-pair" }, table, values.length ? chartBox : null),
      );
      sections.push(section);
      if (values.length) {
        const labels = values.map((value) => valueLabel(group, value));
        sections[sections.length - 1].chart = () =>
          charts.push(
            barChart(Chart, canvas, {
              labels,
              counts,
              horizontal: orientation === "horizontal",
              label: t(COUNTS[group] || "ui.dashboard.col_cases"),
              onPick: (index) => openFigure(`${group}.${values[index]}`, counts[index]),
            }),
          );
      }
    }
    replace(groups, sections);
    drawWhenSeen(sections.filter((section) => section.chart));
  }

  period.addEventListener("change", () => {
    filters.period = period.value;
    custom.hidden = period.value !== "custom";
    if (period.value !== "custom") load();
  });
  apply.addEventListener("click", () => {
    const fromDay = from.value();
    const toDay = to.value();
    filters.from = fromDay;
    filters.to = toDay;
    load();
  });
  team.addEventListener("change", () => {
    filters.team = team.value;
    load();
  });

  await load();
  return () => {
    asked += 1;
    destroyCharts();
  };
}
