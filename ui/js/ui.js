// Small pieces every screen uses: labelled fields, error boxes, busy buttons, the passphrase
// strength meter.

import { h, replace, uid } from "./dom.js";
import { day, errorText, language, t } from "./i18n.js";

/**
 * A labelled control: <label for> + control + optional hint wired with aria-describedby, and a
 * place for what is wrong with it (`showFaults`). `control` may be a composite (a picker) whose
 * `.input` is the element to label. A control outside a `field` (a group of boxes) brings its
 * own place as `.faultSlot` (see `faultSlot`).
 */
export function field(label, control, hint, extraClass) {
  const input = control.input || control;
  const element = control.element || control;
  if (!input.id) input.id = uid("field");
  const parts = [h("label", { for: input.id }, label)];
  if (hint) {
    const hintId = `${input.id}-hint`;
    describe(input, hintId);
    parts.push(h("p", { id: hintId, class: "hint" }, hint));
  }
  parts.push(h("p", { id: `${input.id}-fault`, class: "field-fault", hidden: true }));
  parts.push(element);
  return h("div", { class: ["field", extraClass] }, parts);
}

/** An empty place for what is wrong with a group of controls, shown by `showFaults`. */
export function faultSlot(id) {
  return h("p", { id, class: "field-fault", hidden: true });
}

function describe(input, id) {
  const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
  if (!described.includes(id)) input.setAttribute("aria-describedby", [...described, id].join(" "));
}

/** What a refused value's `code` (from core or from the form's own checks) means, per field. */
const FAULT_KEYS = {
  empty: "error.fault.empty",
  too_long: "error.fault.too_long",
  control_characters: "error.fault.control_characters",
  not_a_date: "error.fault.not_a_date",
  date_in_future: "error.fault.date_in_future",
  date_too_early: "error.fault.date_too_early",
  not_an_age: "error.fault.not_an_age",
  not_a_country: "error.fault.not_a_country",
  not_a_language: "error.fault.not_a_language",
  not_a_phone: "error.fault.not_a_phone",
  not_allowed: "error.fault.not_allowed",
  not_a_partial_date: "error.fault.not_a_partial_date",
  end_before_start: "error.fault.end_before_start",
  only_with_conviction: "error.fault.only_with_conviction",
  not_a_number: "error.fault.not_a_number",
};

/**
 * The sentence for one fault, naming the field by its label. A fault found by the form itself
 * may bring its own translated `sentence` (say, "Tick the consent box once the person has agreed").
 */
export function faultText(fault, label) {
  if (fault.sentence) return fault.sentence;
  const key = FAULT_KEYS[fault.code];
  return key ? t(key, { field: label, max: fault.max ?? "" }) : t("error.invalid");
}

/** The label a control is shown with: its `<label for>`, else its group's legend. */
function shownLabel(input) {
  const label = input.id && document.querySelector(`label[for="${CSS.escape(input.id)}"]`);
  if (label) return label.textContent;
  const legend = input.closest && input.closest("fieldset") && input.closest("fieldset").querySelector("legend");
  return legend ? legend.textContent : "";
}

/**
 * Shows every fault of a refused form at once: each beside its field (marked aria-invalid and
 * styled), a summary in `box` naming the fields, and the first field scrolled into view and
 * focused. `controls` maps field names to controls (or pickers), `labels` field names to
 * labels (a field without one is named by the label it is shown with). An error without faults
 * (not about a typed value) goes to `box` as it is. Returns whether any field was marked.
 */
export function showFaults(box, controls, error, labels = {}) {
  clearFaults(controls);
  if (!error) {
    showError(box, null);
    return false;
  }
  const faults = error.faults && error.faults.length ? error.faults : [];
  const shown = [];
  for (const fault of faults) {
    const control = controls[fault.field];
    if (!control || shown.some((item) => item.field === fault.field)) continue;
    const input = control.input || control;
    const label = labels[fault.field] || shownLabel(input);
    const slot = control.faultSlot || document.getElementById(`${input.id}-fault`);
    if (slot) {
      slot.textContent = faultText(fault, label);
      slot.hidden = false;
      describe(input, slot.id);
    }
    input.setAttribute("aria-invalid", "true");
    const wrapper = input.closest(".field");
    if (wrapper) wrapper.classList.add("invalid");
    shown.push({ field: fault.field, label, input });
  }
  if (!shown.length) {
    showError(box, error);
    return false;
  }
  const sentence =
    shown.length === 1
      ? t("ui.form.check_one", { field: shown[0].label })
      : t("ui.form.check_many", { n: shown.length, fields: shown.map((item) => item.label).join(", ") });
  replace(box, h("p", {}, sentence));
  box.hidden = false;
  const first = shown[0].input;
  const wrapper = first.closest(".field") || first;
  wrapper.scrollIntoView({ block: "center" });
  first.focus({ preventScroll: true });
  return true;
}

export function clearFaults(controls) {
  for (const control of Object.values(controls)) {
    if (!control) continue;
    const input = control.input || control;
    input.removeAttribute("aria-invalid");
    const wrapper = input.closest && input.closest(".field");
    if (wrapper) wrapper.classList.remove("invalid");
    const slot = control.faultSlot || (input.id && document.getElementById(`${input.id}-fault`));
    if (slot) {
      slot.hidden = true;
      slot.textContent = "";
    }
  }
}

// ---- Dates as the worker writes them --------------------------------------------------------

/**
 * A calendar day typed as the worker writes it: day/month/year (the order of Saint Lucia and of
 * the Spanish- and French-speaking countries Harbour serves; "/", "." or "-" between), or
 * year-month-day. Returns YYYY-MM-DD, or null when it is not a real date.
 */
export function parseDay(text) {
  const value = (text || "").trim();
  let y;
  let m;
  let d;
  let match = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(value);
  if (match) [, y, m, d] = match.map(Number);
  else {
    match = /^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$/.exec(value);
    if (!match) return null;
    [, d, m, y] = match.map(Number);
  }
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return null;
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

/** YYYY-MM-DD written back as day/month/year. */
export function writeDay(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
  return match ? `${match[3]}/${match[2]}/${match[1]}` : iso || "";
}

/**
 * A date field: typed as day/month/year, with the date it understood written out in words
 * beneath (so 04/05/1996 is seen to be 4 May). `.value()` is YYYY-MM-DD, or what was typed when
 * it is not a date (core then says what is wrong).
 */
export function dateInput(id, iso) {
  const input = h("input", { id, type: "text", inputmode: "numeric", autocomplete: "off", placeholder: t("ui.date.placeholder") });
  input.value = writeDay(iso);
  const echo = h("p", { class: "hint echo", id: `${id}-echo`, "aria-live": "polite" });
  const update = () => {
    const parsed = parseDay(input.value);
    echo.textContent = parsed ? day(parsed) : "";
  };
  input.addEventListener("input", update);
  update();
  describe(input, echo.id);
  const calendar = h("div", { class: "calendar", id: `${id}-calendar`, hidden: true });
  const pickButton = h(
    "button",
    { type: "button", class: "calendar-toggle", id: `${id}-pick`, "aria-expanded": "false", "aria-controls": calendar.id },
    t("ui.date.pick"),
  );
  const choose = (iso) => {
    input.value = writeDay(iso);
    update();
    input.dispatchEvent(new Event("input", { bubbles: true }));
    calendar.hidden = true;
    pickButton.setAttribute("aria-expanded", "false");
    input.focus();
  };
  pickButton.addEventListener("click", () => {
    if (!calendar.hidden) {
      calendar.hidden = true;
      pickButton.setAttribute("aria-expanded", "false");
      return;
    }
    showCalendar(calendar, parseDay(input.value), choose);
    calendar.hidden = false;
    pickButton.setAttribute("aria-expanded", "true");
    const focus = calendar.querySelector(".calendar-day[aria-current]") || calendar.querySelector(".calendar-day");
    if (focus) focus.focus();
  });
  return {
    input,
    element: h("div", { class: "date-input" }, h("div", { class: "date-row" }, input, pickButton), echo, calendar),
    value: () => {
      const text = input.value.trim();
      return parseDay(text) || text;
    },
    text: () => input.value,
    setText: (text) => {
      input.value = text || "";
      update();
    },
  };
}

/**
 * A month of days to pick from, in the worker's language (month and weekday names from the
 * locale, weeks starting on Monday); `choose(iso)` receives the day as YYYY-MM-DD. Keyboard:
 * arrows move by a day or a week, Page Up/Down by a month, Enter picks, Escape closes.
 */
function showCalendar(root, iso, choose) {
  const today = new Date();
  const start = iso ? new Date(`${iso}T00:00:00Z`) : new Date(Date.UTC(today.getFullYear(), today.getMonth(), today.getDate()));
  let focused = start;
  const lang = language();
  const monthName = new Intl.DateTimeFormat(lang, { month: "long", year: "numeric", timeZone: "UTC" });
  const weekday = new Intl.DateTimeFormat(lang, { weekday: "short", timeZone: "UTC" });
  const whole = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeZone: "UTC" });
  const isoOf = (date) => date.toISOString().slice(0, 10);
  const paint = (focusDay) => {
    const year = focused.getUTCFullYear();
    const month = focused.getUTCMonth();
    const first = new Date(Date.UTC(year, month, 1));
    const offset = (first.getUTCDay() + 6) % 7;
    const days = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    const heads = [0, 1, 2, 3, 4, 5, 6].map((n) => h("th", { scope: "col" }, weekday.format(new Date(Date.UTC(2024, 0, 1 + n)))));
    const rows = [];
    let cells = Array.from({ length: offset }, () => h("td", {}));
    for (let d = 1; d <= days; d++) {
      const date = new Date(Date.UTC(year, month, d));
      const value = isoOf(date);
      const current = value === isoOf(focused);
      cells.push(
        h(
          "td",
          {},
          h(
            "button",
            {
              type: "button",
              class: "calendar-day",
              tabindex: current ? "0" : "-1",
              "aria-current": value === iso ? "date" : false,
              "aria-label": whole.format(date),
              dataset: { day: value },
              onclick: () => choose(value),
            },
            String(d),
          ),
        ),
      );
      if (cells.length === 7) {
        rows.push(h("tr", {}, cells));
        cells = [];
      }
    }
    if (cells.length) rows.push(h("tr", {}, cells));
    const move = (months) => {
      focused = new Date(Date.UTC(year, month + months, Math.min(focused.getUTCDate(), 28)));
      paint(false);
    };
    replace(
      root,
      h(
        "div",
        { class: "calendar-head" },
        h("button", { type: "button", class: "calendar-prev", "aria-label": t("ui.date.previous_month"), onclick: () => move(-1) }, "‹"),
        h("strong", { "aria-live": "polite" }, monthName.format(first)),
        h("button", { type: "button", class: "calendar-next", "aria-label": t("ui.date.next_month"), onclick: () => move(1) }, "›"),
      ),
      h("table", { role: "grid" }, h("thead", {}, h("tr", {}, heads)), h("tbody", {}, rows)),
    );
    if (focusDay) {
      const button = root.querySelector(`.calendar-day[data-day="${isoOf(focused)}"]`);
      if (button) button.focus();
    }
  };
  root.onkeydown = (event) => {
    const steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 };
    if (event.key in steps) {
      focused = new Date(focused.getTime() + steps[event.key] * 86400000);
    } else if (event.key === "PageUp" || event.key === "PageDown") {
      const months = event.key === "PageUp" ? -1 : 1;
      focused = new Date(Date.UTC(focused.getUTCFullYear(), focused.getUTCMonth() + months, Math.min(focused.getUTCDate(), 28)));
    } else if (event.key === "Escape") {
      // Closes the calendar only: the quick exit still sees Escape (it listens on the window).
      root.hidden = true;
      return;
    } else {
      return;
    }
    event.preventDefault();
    paint(true);
  };
  paint(false);
}

// ---- Choosing countries and languages by name ---------------------------------------------

/** Lower case without accents, for matching what is typed against names. */
export function fold(text) {
  return (text || "")
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase();
}

/**
 * Several values chosen from a long list by typing part of a name in the worker's language:
 * the chosen ones as removable chips, then a search box whose matches appear under it.
 * `entries` are [{value, label}]. `.value()` is the chosen codes, comma-separated. With
 * `single`, a new choice replaces the one before (one country of exploitation).
 */
export function picker(id, entries, chosen, onChange, single = false) {
  const selected = [...new Set(chosen || [])].filter(Boolean);
  const input = h("input", { id, type: "search", autocomplete: "off", spellcheck: "false", role: "combobox", "aria-expanded": "false" });
  const listId = `${id}-options`;
  input.setAttribute("aria-controls", listId);
  const chips = h("ul", { class: "chips", id: `${id}-chosen` });
  const options = h("ul", { class: "pick-options", id: listId, role: "listbox", hidden: true });
  const label = (value) => (entries.find((entry) => entry.value === value) || { label: value }).label;

  const paintChips = () => {
    replace(
      chips,
      selected.map((value) =>
        h(
          "li",
          { class: "chip", dataset: { value } },
          h("span", {}, label(value)),
          h(
            "button",
            {
              type: "button",
              class: "chip-remove",
              "aria-label": t("ui.picker.remove", { name: label(value) }),
              onclick: () => {
                selected.splice(selected.indexOf(value), 1);
                paintChips();
                changed();
                input.focus();
              },
            },
            "×",
          ),
        ),
      ),
    );
  };
  const changed = () => {
    if (onChange) onChange();
    input.dispatchEvent(new Event("change", { bubbles: true }));
  };
  const matches = () => {
    const wanted = fold(input.value.trim());
    if (!wanted) return [];
    return entries
      .filter((entry) => !selected.includes(entry.value))
      .filter((entry) => fold(entry.search || entry.label).includes(wanted) || entry.value.toLowerCase() === wanted)
      .sort((a, b) => Number(!fold(a.label).startsWith(wanted)) - Number(!fold(b.label).startsWith(wanted)))
      .slice(0, 8);
  };
  const choose = (value) => {
    if (single) selected.splice(0, selected.length);
    if (!selected.includes(value)) selected.push(value);
    input.value = "";
    paintOptions();
    paintChips();
    changed();
    input.focus();
  };
  const paintOptions = () => {
    const found = matches();
    replace(
      options,
      found.map((entry) =>
        h(
          "li",
          { role: "option" },
          h("button", { type: "button", class: "pick-option", dataset: { value: entry.value }, onclick: () => choose(entry.value) }, entry.label),
        ),
      ),
      input.value.trim() && !found.length ? h("li", { class: "muted" }, t("ui.picker.none")) : null,
    );
    options.hidden = !input.value.trim();
    input.setAttribute("aria-expanded", String(!options.hidden));
  };
  input.addEventListener("input", paintOptions);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      const first = matches()[0];
      if (first) {
        event.preventDefault();
        event.stopPropagation();
        choose(first.value);
      }
    } else if (event.key === "ArrowDown") {
      const first = options.querySelector("button");
      if (first) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  options.addEventListener("keydown", (event) => {
    const buttons = [...options.querySelectorAll("button")];
    const at = buttons.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && at < buttons.length - 1) {
      event.preventDefault();
      buttons[at + 1].focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      (at > 0 ? buttons[at - 1] : input).focus();
    }
  });
  paintChips();
  return {
    input,
    element: h("div", { class: "picker" }, chips, input, options),
    value: () => selected.join(", "),
    codes: () => [...selected],
  };
}

/** An empty, hidden alert box; `showError(box, error)` fills it. */
export function errorBox(id) {
  return h("div", { id, class: "error-box", role: "alert", hidden: true });
}

export function showError(box, error) {
  if (!error) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const { sentence, detail } = typeof error === "string" ? { sentence: error, detail: "" } : errorText(error);
  replace(box, h("p", {}, sentence), detail ? h("p", { class: "detail" }, detail) : null);
  box.hidden = false;
}

/**
 * Says in `box` (a `role="status"` element) why a screen was opened again, from the error
 * `kind` that sent it there (`figures_changed`: the number's cases changed; `figures_gone`:
 * the figures were no longer kept); hides it when `kind` is empty.
 */
export function showNotice(box, kind) {
  if (!kind) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  replace(box, h("p", {}, errorText({ kind }).sentence));
  box.dataset.kind = kind;
  box.hidden = false;
}

/** Marks the control named by an `invalid` error, if it is on screen, and focuses it. */
export function markInvalid(error, controls) {
  for (const control of Object.values(controls)) control.removeAttribute("aria-invalid");
  if (!error || error.kind !== "invalid" || !error.field) return false;
  const control = controls[error.field] || controls[error.field.replace(/s$/, "")] || controls[`${error.field}s`];
  if (!control) return false;
  control.setAttribute("aria-invalid", "true");
  control.focus();
  return true;
}

/**
 * Checks a form before it is sent: `checks` are [control name, failed, message key] in the
 * order of the form. Shows every control that failed at once, each with the sentence of its
 * first failed check beside it (`showFaults`); returns whether the form may be sent.
 */
export function formIsComplete(box, controls, checks, labels = {}) {
  const faults = [];
  for (const [name, fails, key] of checks) {
    if (!fails || faults.some((fault) => fault.field === name)) continue;
    // The weak-passphrase warning is given once: the same passphrase sent again is kept.
    if (key === "ui.passphrase.weak_confirm") keptWeak.set(controls[name], controls[name].value);
    faults.push({ field: name, code: "form", sentence: t(key) });
  }
  if (!faults.length) {
    showFaults(box, controls, null);
    return true;
  }
  showFaults(box, controls, { kind: "invalid", faults }, labels);
  return false;
}

/** A weak passphrase the worker chose to keep after the warning, per input. */
const keptWeak = new WeakMap();

/**
 * The checks of a new passphrase (and its confirmation, when the form has one). A weak one
 * (strength 2 or less) is refused once with a warning; sent again unchanged, it is the
 * worker's considered choice.
 */
export function newPassphraseChecks(name, passphrase, confirm) {
  const tooShort = [...passphrase.value].length < MIN_PASSPHRASE;
  const weak = !tooShort && strength(passphrase.value) <= 2 && keptWeak.get(passphrase) !== passphrase.value;
  const checks = [
    [name, tooShort, "ui.passphrase.too_short"],
    [name, weak, "ui.passphrase.weak_confirm"],
  ];
  if (confirm) checks.push(["confirm", passphrase.value !== confirm.value, "ui.passphrase.mismatch"]);
  return checks;
}

/** Runs `work` with `button` disabled and marked busy; returns its result. */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

export const MIN_PASSPHRASE = 12;

/** 0 (too short) … 4 (strong): length counts most; mixing kinds of characters or words helps. */
export function strength(passphrase) {
  const text = passphrase || "";
  if ([...text].length < MIN_PASSPHRASE) return 0;
  if (/^(.)\1+$/.test(text) || /^(?:0123456789|1234567890|abcdefghijkl)/i.test(text)) return 1;
  const kinds = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9\s]/].filter((re) => re.test(text)).length;
  const words = text.trim().split(/\s+/).length;
  let score = 1;
  if (text.length >= 16) score += 1;
  if (text.length >= 22) score += 1;
  if (kinds >= 3 || words >= 4) score += 1;
  return Math.min(score, 4);
}

const STRENGTH_KEYS = [
  "ui.passphrase.strength_0",
  "ui.passphrase.strength_1",
  "ui.passphrase.strength_2",
  "ui.passphrase.strength_3",
  "ui.passphrase.strength_4",
];

/** A meter that follows `input`: a bar and a sentence. */
export function strengthMeter(input) {
  const fill = h("span", { class: "meter-fill strength-0" });
  const words = h("span", { class: "meter-words", "aria-live": "polite" });
  const meter = h("div", { class: "meter", "aria-hidden": "true" }, fill);
  const update = () => {
    const score = strength(input.value);
    fill.className = input.value ? `meter-fill strength-${score}` : "meter-fill";
    words.textContent = input.value ? t(STRENGTH_KEYS[score]) : t("ui.passphrase.strength_hint");
  };
  input.addEventListener("input", update);
  update();
  return h("div", { class: "strength" }, meter, words);
}

/** A passphrase input, with a show/hide toggle. */
export function passphraseInput(id, autocomplete) {
  const input = h("input", {
    id,
    type: "password",
    autocomplete,
    spellcheck: "false",
    autocapitalize: "off",
  });
  return input;
}

export function showToggle(inputs) {
  const box = h("input", { type: "checkbox", id: uid("show") });
  box.addEventListener("change", () => {
    for (const input of inputs) input.type = box.checked ? "text" : "password";
  });
  return h("div", { class: "check" }, box, h("label", { for: box.id }, t("ui.passphrase.show")));
}

/** A heading with a page title and a line under it. */
export function pageHeader(title, lead, ...actions) {
  return h(
    "div",
    { class: "page-header" },
    h("div", { class: "page-titles" }, h("h1", {}, title), lead ? h("p", { class: "lead" }, lead) : null),
    actions.length ? h("div", { class: "page-actions" }, actions) : null,
  );
}
