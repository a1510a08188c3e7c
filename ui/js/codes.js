// Coded values (sex, status, risk, urgency, countries…) shown in the worker's language:
// `code.<list>.<value>` from the table, service types from `service_type.<value>`, countries
// from the engine's region names; otherwise the English label the shell sends.

import { call } from "./api.js";
import { country, languageName, tOr } from "./i18n.js";

let lists = null;
let loading = null;

/** The value lists, fetched once per run (they hold no case data). */
export function loadLists() {
  if (lists) return Promise.resolve(lists);
  if (!loading) {
    loading = call("value_lists").then(
      (result) => {
        lists = result;
        return lists;
      },
      (error) => {
        loading = null;
        throw error;
      },
    );
  }
  return loading;
}

function englishLabel(list, value) {
  const entries = lists && lists[list];
  const entry = entries && entries.find((item) => item.value === value);
  return entry ? entry.label : String(value);
}

export function codeLabel(list, value) {
  if (value === null || value === undefined || value === "") return "";
  if (list === "service_type") return tOr("service_type." + value, englishLabel(list, value));
  if (list === "country") return country(value, englishLabel(list, value));
  if (list === "language") return languageName(value);
  return tOr("code." + list + "." + value, englishLabel(list, value));
}

/** [{value, label, search?}] of a list in the worker's language (`search`: more words that find it); countries and languages sorted by name. */
export function choices(list) {
  const entries = (lists && lists[list]) || [];
  const out = entries.map((item) => ({ value: item.value, label: codeLabel(list, item.value) }));
  if (list === "country" || list === "language") out.sort((a, b) => a.label.localeCompare(b.label));
  // English names abbreviate "Saint" ("St. Lucia"): typing the name in full finds them too.
  if (list === "country") {
    for (const entry of out) {
      const full = entry.label.replace(/\bSt\. /g, "Saint ").replace(/ & /g, " and ");
      if (full !== entry.label) entry.search = `${entry.label} ${full}`;
    }
  }
  return out;
}
