// Small pieces every screen uses: labelled fields, error boxes, busy buttons, the passphrase
// strength meter.

import { h, replace, uid } from "./dom.js";
import { errorText, t } from "./i18n.js";

/** A labelled control: <label for> + control + optional hint wired with aria-describedby. */
export function field(label, control, hint, extraClass) {
  if (!control.id) control.id = uid("field");
  const parts = [h("label", { for: control.id }, label)];
  if (hint) {
    const hintId = `${control.id}-hint`;
    const described = (control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (!described.includes(hintId)) control.setAttribute("aria-describedby", [...described, hintId].join(" "));
    parts.push(h("p", { id: hintId, class: "hint" }, hint));
  }
  parts.push(control);
  return h("div", { class: ["field", extraClass] }, parts);
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
 * order of the form. Shows the first that failed in `box` and marks its control; returns
 * whether the form may be sent.
 */
export function formIsComplete(box, controls, checks) {
  const failed = checks.find(([, fails]) => fails);
  if (!failed) {
    showError(box, null);
    markInvalid(null, controls);
    return true;
  }
  showError(box, t(failed[2]));
  markInvalid({ kind: "invalid", field: failed[0] }, controls);
  return false;
}

/** The checks of a new passphrase (and its confirmation, when the form has one). */
export function newPassphraseChecks(name, passphrase, confirm) {
  const checks = [[name, [...passphrase.value].length < MIN_PASSPHRASE, "ui.passphrase.too_short"]];
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
