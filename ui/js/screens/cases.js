// The case list: search as you type (name, alias or code; the store folds accents), filters,
// and at most 200 rows on screen however many cases there are.

import { call } from "../api.js";
import { app } from "../app.js";
import { debounce, h, replace } from "../dom.js";
import { day, number, t } from "../i18n.js";
import { codeLabel, loadLists } from "../codes.js";
import { errorBox, field, pageHeader, showError } from "../ui.js";

const LIMIT = 200;

/** The search and filters, kept while Harbour is unlocked so the list comes back as it was. */
let query = { search: "", status: "", needsReview: false };

export function forget() {
  query = { search: "", status: "", needsReview: false };
}

const STATUSES = ["active", "follow_up", "closed", "closed_referred"];

export async function render(root, route, current) {
  const lists = loadLists().catch(() => null);
  const search = h("input", {
    id: "case-search",
    type: "search",
    autocomplete: "off",
    spellcheck: "false",
    value: query.search,
  });
  const status = h(
    "select",
    { id: "filter-status" },
    h("option", { value: "" }, t("ui.cases.filter_status_all")),
    STATUSES.map((value) => h("option", { value }, codeLabel("case_status", value))),
  );
  status.value = query.status;
  const review = h("input", { id: "filter-review", type: "checkbox", checked: query.needsReview });
  const count = h("p", { id: "case-count", "aria-live": "polite" });
  const list = h("ul", { id: "case-list", class: "case-list", "aria-label": t("ui.cases.list_label") });
  const error = errorBox("cases-error");

  const newScreening = h(
    "button",
    { id: "new-screening", type: "button", class: "primary", onclick: () => app.navigate({ screen: "new-case", then: "screening" }) },
    t("ui.cases.new_screening"),
  );
  const newCase = h("button", { id: "new-case", type: "button", onclick: () => app.navigate({ screen: "new-case" }) }, t("ui.cases.new_case"));

  // What the worker has just done elsewhere, such as discarding a case, said once.
  const notice =
    route && route.notice === "discarded"
      ? h("p", { id: "cases-notice", class: "notice info", role: "status" }, t("ui.cases.discarded", { code: route.code || "" }))
      : null;
  root.append(
    pageHeader(t("ui.cases.title"), null, newScreening, newCase),
    notice,
    h(
      "div",
      { class: "filters", role: "search" },
      field(t("ui.cases.search"), search, t("ui.cases.search_hint"), "grow"),
      field(t("ui.cases.filter_status"), status),
      h("div", { class: "check filter-check" }, review, h("label", { for: "filter-review" }, t("ui.cases.filter_review"))),
    ),
    count,
    error,
    list,
  );

  let asked = 0;
  async function load() {
    const ticket = ++asked;
    const wanted = { limit: LIMIT };
    if (query.search.trim()) wanted.search = query.search.trim();
    if (query.status) wanted.status = query.status;
    if (query.needsReview) wanted.needs_review = true;
    try {
      const result = await call("list_cases", { query: wanted });
      if (ticket !== asked || !current()) return;
      await lists;
      showError(error, null);
      show(result);
    } catch (failure) {
      if (ticket !== asked || !current()) return;
      showError(error, failure);
    }
  }

  function show(result) {
    const cases = result.cases || [];
    const total = result.total ?? cases.length;
    const filtered = Boolean(query.search.trim() || query.status || query.needsReview);
    // `total` is every case on this laptop; the list holds at most LIMIT of those that match.
    const n = number(cases.length);
    const all = number(total);
    if (cases.length === 0) {
      count.textContent = filtered ? t("ui.cases.none_found") : t("ui.cases.none_yet");
    } else if (!filtered && cases.length >= total) {
      count.textContent = t(cases.length === 1 ? "ui.cases.count_one" : "ui.cases.count_all", { n });
    } else if (!filtered) {
      count.textContent = t("ui.cases.count_recent", { n, total: all });
    } else if (cases.length >= LIMIT) {
      count.textContent = t("ui.cases.count_capped", { n, total: all });
    } else {
      const key = cases.length !== 1 ? "ui.cases.count_found" : total === 1 ? "ui.cases.count_found_only" : "ui.cases.count_found_one";
      count.textContent = t(key, { n, total: all });
    }
    const fragment = document.createDocumentFragment();
    for (const summary of cases) fragment.append(row(summary));
    replace(list, fragment);
  }

  const later = debounce(load, 120);
  search.addEventListener("input", () => {
    query.search = search.value;
    later();
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      const first = list.querySelector(".case-row");
      if (first) {
        event.preventDefault();
        first.focus();
      }
    } else if (event.key === "Enter") {
      later.flush();
    }
  });
  status.addEventListener("change", () => {
    query.status = status.value;
    load();
  });
  review.addEventListener("change", () => {
    query.needsReview = review.checked;
    load();
  });
  list.addEventListener("keydown", (event) => {
    const rowButton = event.target.closest(".case-row");
    if (!rowButton) return;
    const item = rowButton.parentElement;
    if (event.key === "ArrowDown" && item.nextElementSibling) {
      event.preventDefault();
      item.nextElementSibling.querySelector(".case-row").focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (item.previousElementSibling) item.previousElementSibling.querySelector(".case-row").focus();
      else search.focus();
    }
  });

  await load();
  search.focus();
  return () => later.cancel();
}

function row(summary) {
  const status = h("span", { class: "case-status", dataset: { status: summary.status } }, codeLabel("case_status", summary.status));
  const risk = summary.risk_level
    ? h("span", { class: "case-risk", dataset: { risk: summary.risk_level } }, t("ui.case.risk_short", { risk: codeLabel("risk_level", summary.risk_level) }))
    : null;
  const review = summary.needs_review ? h("span", { class: "badge review" }, t("ui.cases.needs_review")) : null;
  const button = h(
    "button",
    {
      type: "button",
      class: "case-row",
      dataset: { code: summary.code, id: summary.id },
      onclick: () => app.navigate({ screen: "case", id: summary.id }),
    },
    h("span", { class: "case-name" }, summary.name),
    h("span", { class: "case-code" }, summary.code),
    h("span", { class: "case-meta" }, status, risk, review),
    h("span", { class: "case-team" }, summary.team || ""),
    h("span", { class: "case-updated" }, day(summary.updated_at)),
  );
  return h("li", {}, button);
}
