// A referral's printed letter and case summary, saved as a PDF (`save_referral_letter`): only
// what the person's consent for the referral covers, in the language the service reads. The
// window cannot open a file dialog, so the worker types where it goes, or leaves it empty for the
// "Harbour letters" folder in their Documents; the saved path is shown, with the reminder that
// the letter is in clear.

import { call } from "./api.js";
import { h, replace } from "./dom.js";
import { LANGUAGES, language, t } from "./i18n.js";
import { busy, errorBox, field, markInvalid, showError } from "./ui.js";

const LANGUAGE_KEYS = { en: "ui.language.en", es: "ui.language.es", fr: "ui.language.fr" };

/** The "Save letter as PDF" button of a referral, and the short form it opens below itself. */
export function letterControl(caseId, referral) {
  const slot = h("div", { class: "letter-slot" });
  const open = h(
    "button",
    { type: "button", class: "link referral-letter", dataset: { referral: referral.id }, onclick: () => showForm() },
    t("ui.letter.open"),
  );
  const showForm = () => {
    // One letter form at a time on the page: its ids are the test hooks.
    const other = document.getElementById("letter-form");
    if (other) other.remove();
    const lang = h(
      "select",
      { id: "letter-lang" },
      LANGUAGES.map((code) => h("option", { value: code, lang: code }, t(LANGUAGE_KEYS[code]))),
    );
    lang.value = language();
    const path = h("input", { id: "letter-path", type: "text", autocomplete: "off", spellcheck: "false" });
    const save = h("button", { id: "letter-save", type: "submit", class: "primary" }, t("ui.letter.save"));
    const cancel = h("button", { id: "letter-cancel", type: "button", onclick: () => { form.remove(); open.focus(); } }, t("ui.common.cancel"));
    const error = errorBox("letter-error");
    const saved = h("p", { id: "letter-saved", class: "saved", role: "status" });
    const form = h(
      "form",
      { id: "letter-form", class: "letter-form", novalidate: true },
      h("p", { class: "hint" }, t("ui.letter.help")),
      field(t("ui.letter.language"), lang),
      field(t("ui.letter.path"), path, t("ui.letter.path_hint")),
      error,
      saved,
      h("div", { class: "actions inline" }, save, cancel),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      saved.textContent = "";
      showError(error, null);
      try {
        const written = await busy(save, () =>
          call("save_referral_letter", { id: caseId, referral: referral.id, input: { lang: lang.value, path: path.value } }),
        );
        saved.textContent = t("ui.letter.saved", { path: written.path });
      } catch (failure) {
        showError(error, failure);
        markInvalid(failure, { path, lang });
      }
    });
    replace(slot, form);
    lang.focus();
    // The whole form in view, its buttons clear of the sync bar on a small screen.
    form.scrollIntoView({ block: "nearest" });
  };
  return h("div", { class: "referral-letter-row" }, open, slot);
}
