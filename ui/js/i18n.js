// The interface's words: every string comes from the shared table (assets/i18n/strings.json,
// through the `translations` command). Keys are written out in full where they are used, as
// t("ui.unlock.title"), so the core test can check that each one exists in the table.

export const LANGUAGES = ["en", "es", "fr"];

let table = {};
let lang = "en";

export function setTable(next) {
  table = next || {};
}

export function setLanguage(next) {
  lang = LANGUAGES.includes(next) ? next : "en";
  document.documentElement.lang = lang;
}

export function language() {
  return lang;
}

export function has(key) {
  return Object.prototype.hasOwnProperty.call(table, key);
}

/** The text of `key` in the interface language, with `{name}` replaced from `vars`. */
export function t(key, vars) {
  const entry = table[key];
  let text = entry ? entry[lang] || entry.en || key : key;
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
  }
  return text;
}

/** The text of `key` in another language (the person's, in a screening). */
export function tIn(key, inLang) {
  const entry = table[key];
  return entry ? entry[inLang] || entry.en || key : key;
}

/** `key` when the table has it, else `fallback` (a label sent by the shell, in English). */
export function tOr(key, fallback) {
  return has(key) ? t(key) : fallback;
}

/** A form text `{en, es, fr}` in `in_lang` (default: the interface language). */
export function tx(text, inLang) {
  if (!text) return "";
  if (typeof text === "string") return text;
  return text[inLang || lang] || text.en || "";
}

// ICU formatters are costly to make (and each holds memory until the collector runs): one per
// language and kind, made on first use, instead of one per row of a list.
const formatters = new Map();

function formatter(kind, make) {
  const key = lang + "|" + kind;
  let made = formatters.get(key);
  if (!made) {
    made = make();
    formatters.set(key, made);
  }
  return made;
}

/** One of n / many: picks the key by the language's plural rules. */
export function plural(n, one, other) {
  return formatter("plural", () => new Intl.PluralRules(lang)).select(n) === "one" ? one : other;
}

export function number(n) {
  return formatter("number", () => new Intl.NumberFormat(lang)).format(n);
}

export function dateTime(ms) {
  if (!ms) return "";
  return formatter("date-time", () => new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" })).format(
    new Date(ms),
  );
}

export function time(ms) {
  return formatter("time", () => new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" })).format(new Date(ms));
}

/** A calendar day written YYYY-MM-DD (or an RFC 3339 time), shown in the reader's language. */
export function day(text) {
  if (!text) return "";
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const date = match ? new Date(Date.UTC(+match[1], +match[2] - 1, +match[3])) : new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  // A bare calendar day is the same day everywhere: read and shown in UTC.
  const shown = match
    ? formatter("day-utc", () => new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeZone: "UTC" }))
    : formatter("day", () => new Intl.DateTimeFormat(lang, { dateStyle: "medium" }));
  return shown.format(date);
}

/** The label key of each case field, as the case page names it. */
const FIELD_LABELS = {
  name: "ui.field.name",
  aliases: "ui.field.aliases",
  sex: "ui.field.sex",
  birth_date: "ui.field.birth_date",
  estimated_age: "ui.field.estimated_age",
  nationalities: "ui.field.nationalities",
  languages: "ui.field.languages",
  phone: "ui.field.phone",
  location: "ui.field.location",
  status: "ui.field.status",
  risk_level: "ui.field.risk_level",
  exploitation_types: "ui.field.exploitation_types",
  means_of_control: "ui.field.means_of_control",
  assigned_team: "ui.field.assigned_team",
  assigned_worker: "ui.field.assigned_worker",
  identification_status: "ui.field.identification_status",
  identification_date: "ui.field.identification_date",
  identified_by: "ui.field.identified_by",
  country_of_exploitation: "ui.field.country_of_exploitation",
  recruiter_relation: "ui.field.recruiter_relation",
  recruitment_methods: "ui.field.recruitment_methods",
  labour_sectors: "ui.field.labour_sectors",
  intake_date: "ui.field.intake_date",
};

/** A case field by its label in the interface's language (its name only for a field without one). */
export function fieldLabel(name) {
  return FIELD_LABELS[name] ? t(FIELD_LABELS[name]) : name;
}

let regionNames = null;
let regionLang = null;

/** A country's name from its ISO 3166-1 code, in the interface language. */
export function country(code, fallback) {
  try {
    if (regionLang !== lang) {
      regionNames = new Intl.DisplayNames([lang], { type: "region" });
      regionLang = lang;
    }
    const name = regionNames.of(code);
    if (name && name !== code) return name;
  } catch {
    // An engine without DisplayNames, or a code it does not know: the shell's English label.
  }
  return fallback || code;
}

let languageNames = null;
let languageNamesLang = null;

/** A language's name from its ISO 639 code (acf → Kwéyòl when the engine knows it). */
export function languageName(code) {
  if (code === "acf") return t("ui.language.acf");
  try {
    if (languageNamesLang !== lang) {
      languageNames = new Intl.DisplayNames([lang], { type: "language" });
      languageNamesLang = lang;
    }
    const name = languageNames.of(code);
    if (name && name !== code) return name;
  } catch {
    // fall through
  }
  return code;
}

// Every kind the shell's `CommandError` can have (src-tauri/src/error.rs `KINDS`; a test there
// checks that each is listed here and translated).
const ERROR_KEYS = {
  wrong_passphrase: "error.wrong_passphrase",
  locked: "error.locked",
  invalid: "error.invalid",
  not_found: "error.not_found",
  not_discardable: "error.not_discardable",
  already_referred: "error.already_referred",
  figures_changed: "error.figures_changed",
  figures_gone: "error.figures_gone",
  directory_not_editable: "error.directory_not_editable",
  workspace_exists: "error.workspace_exists",
  no_workspace: "error.no_workspace",
  sync: "error.sync",
  too_large: "error.too_large",
  file_exists: "error.file_exists",
  export_passphrase: "error.export_passphrase",
  internal: "error.internal",
};

// Why a sync or a call to the server failed (`harbour_sync::failure::Failure`; the test in
// src-tauri/src/error.rs checks that every code is here and translated). The server's and core's
// own English sentences are never shown for these.
const SYNC_FAILURE_KEYS = {
  unreachable: "sync.failure.unreachable",
  busy: "sync.failure.busy",
  server_error: "sync.failure.server_error",
  refused: "sync.failure.refused",
  not_allowed: "sync.failure.not_allowed",
  rejected: "sync.failure.rejected",
  too_large: "sync.failure.too_large",
  not_understood: "sync.failure.not_understood",
  address: "sync.failure.address",
  connection: "sync.failure.connection",
  not_enrolled: "sync.failure.not_enrolled",
  wiped: "sync.failure.wiped",
  interrupted: "sync.failure.interrupted",
  local: "sync.failure.local",
};

// What a sync that went well has to tell (`harbour_sync::failure::Notice`; checked like the
// failures by the test in src-tauri/src/error.rs).
const SYNC_NOTICE_KEYS = {
  service_directory_refused: "sync.notice.service_directory_refused",
  service_directory_to_check: "sync.notice.service_directory_to_check",
};

/** The sentence for a sync notice's code (nothing when the code is unknown). */
export function syncNoticeText(code) {
  const key = SYNC_NOTICE_KEYS[code];
  return key && has(key) ? t(key) : "";
}

/** The sentence for a sync failure's code (`error.sync` when the code is unknown). */
export function syncFailureText(reason) {
  const key = SYNC_FAILURE_KEYS[reason];
  return key && has(key) ? t(key) : t("error.sync");
}

/**
 * What to tell the worker about an error: the translated sentence for its kind and, when the
 * shell's own sentence adds something (which field, what is allowed), that too.
 */
export function errorText(error) {
  if (error && error.kind === "sync") return { sentence: syncFailureText(error.reason), detail: "" };
  const key = ERROR_KEYS[error && error.kind];
  const sentence = key && has(key) ? t(key) : t("error.internal");
  const detail = error && error.message ? error.message : "";
  // Core's own sentence is English: it is added only to the English interface, so a Spanish or
  // French screen never shows a sentence that was not translated.
  const showDetail = lang === "en" && ["invalid", "internal", "not_found"].includes(error && error.kind);
  return { sentence, detail: showDetail && detail !== sentence ? detail : "" };
}
