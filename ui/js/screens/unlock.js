// Unlock: the passphrase only. A wrong one says so plainly; afterwards the worker goes back to
// where they were.

import { call } from "../api.js";
import { app } from "../app.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import * as syncBar from "../syncbar.js";
import { busy, errorBox, field, passphraseInput, showError } from "../ui.js";

const REASON_KEYS = {
  inactivity: "ui.unlock.reason_inactivity",
  quick_exit: "ui.unlock.reason_quick_exit",
  quick_exit_unsaved: "ui.unlock.reason_quick_exit_unsaved",
};

export function render(root, route) {
  const passphrase = passphraseInput("unlock-passphrase", "current-password");
  const error = errorBox("unlock-error");
  const submit = h("button", { id: "unlock-submit", type: "submit", class: "primary" }, t("ui.unlock.submit"));
  const reason = REASON_KEYS[route.reason];
  const form = h(
    "form",
    { class: "panel narrow", novalidate: true },
    h("h1", {}, t("ui.unlock.title")),
    reason ? h("p", { class: "lead" }, t(reason)) : null,
    field(t("ui.unlock.passphrase"), passphrase),
    error,
    h("div", { class: "actions" }, submit),
    h("p", { class: "hint" }, t("ui.unlock.forgotten")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!passphrase.value) {
      showError(error, t("ui.unlock.empty"));
      passphrase.focus();
      return;
    }
    showError(error, null);
    passphrase.removeAttribute("aria-invalid");
    try {
      const status = await busy(submit, () => call("unlock", { input: { passphrase: passphrase.value } }));
      passphrase.value = "";
      app.setStatus(status);
      syncBar.refresh();
      const next = app.resumeRoute || { screen: "cases" };
      app.resumeRoute = null;
      await app.navigate(next);
    } catch (failure) {
      showError(error, failure);
      passphrase.setAttribute("aria-invalid", "true");
      passphrase.select();
      passphrase.focus();
    }
  });
  root.append(h("div", { class: "centered" }, form));
  passphrase.focus();
}
