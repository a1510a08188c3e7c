// First run: start a new Harbour on this laptop, or join an organisation with an invitation.

import { call } from "../api.js";
import { app } from "../app.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import * as syncBar from "../syncbar.js";
import {
  busy,
  errorBox,
  field,
  formIsComplete,
  markInvalid,
  newPassphraseChecks,
  pageHeader,
  passphraseInput,
  showError,
  showToggle,
  strengthMeter,
} from "../ui.js";

export function render(root, route) {
  if (route && route.wiped) {
    root.append(
      h(
        "div",
        { id: "wiped-notice", class: "notice warning", role: "alert" },
        h("p", { class: "notice-title" }, t("ui.wiped.title")),
        h("p", {}, t("ui.wiped.body")),
      ),
    );
  }
  root.append(
    pageHeader(t("ui.first_run.title"), t("ui.first_run.lead")),
    h("div", { class: "columns" }, createPanel(), joinPanel()),
  );
  document.getElementById("create-worker").focus();
}

function noRecoveryWarning() {
  return h(
    "div",
    { class: "notice warning", role: "note" },
    h("p", { class: "notice-title" }, t("ui.first_run.no_recovery_title")),
    h("p", {}, t("ui.first_run.no_recovery")),
  );
}

async function finish(status) {
  app.setStatus(status);
  syncBar.refresh();
  await app.navigate({ screen: "cases" });
}

function createPanel() {
  const worker = h("input", { id: "create-worker", type: "text", autocomplete: "name", required: true });
  const passphrase = passphraseInput("create-passphrase", "new-password");
  const confirm = passphraseInput("create-passphrase-confirm", "new-password");
  const error = errorBox("create-error");
  const submit = h("button", { id: "create-submit", type: "submit", class: "primary" }, t("ui.first_run.create_submit"));
  const form = h(
    "form",
    { class: "panel", "aria-labelledby": "create-title", novalidate: true },
    h("h2", { id: "create-title" }, t("ui.first_run.create_title")),
    h("p", {}, t("ui.first_run.create_lead")),
    field(t("ui.first_run.worker"), worker, t("ui.first_run.worker_hint")),
    field(t("ui.passphrase.new"), passphrase, t("ui.passphrase.rules")),
    strengthMeter(passphrase),
    field(t("ui.passphrase.confirm"), confirm),
    showToggle([passphrase, confirm]),
    noRecoveryWarning(),
    error,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const controls = { worker, passphrase, confirm };
    const checks = [["worker", !worker.value.trim(), "ui.first_run.worker_missing"], ...newPassphraseChecks("passphrase", passphrase, confirm)];
    if (!formIsComplete(error, controls, checks)) return;
    try {
      const status = await busy(submit, () =>
        call("create_workspace", { input: { passphrase: passphrase.value, worker: worker.value.trim() } }),
      );
      passphrase.value = "";
      confirm.value = "";
      await finish(status);
    } catch (failure) {
      showError(error, failure);
      markInvalid(failure, controls);
    }
  });
  return form;
}

function joinPanel() {
  const invitation = h("textarea", { id: "join-invitation", rows: "4", spellcheck: "false", autocapitalize: "off" });
  const code = h("input", { id: "join-code", type: "text", autocomplete: "off", spellcheck: "false", autocapitalize: "off" });
  const worker = h("input", { id: "join-worker", type: "text", autocomplete: "name" });
  const passphrase = passphraseInput("join-passphrase", "new-password");
  const error = errorBox("join-error");
  const submit = h("button", { id: "join-submit", type: "submit", class: "primary" }, t("ui.first_run.join_submit"));
  const form = h(
    "form",
    { class: "panel", "aria-labelledby": "join-title", novalidate: true },
    h("h2", { id: "join-title" }, t("ui.first_run.join_title")),
    h("p", {}, t("ui.first_run.join_lead")),
    field(t("ui.first_run.invitation"), invitation, t("ui.first_run.invitation_hint")),
    field(t("ui.first_run.code"), code, t("ui.first_run.code_hint")),
    field(t("ui.first_run.worker"), worker, t("ui.first_run.worker_hint")),
    field(t("ui.passphrase.new"), passphrase, t("ui.passphrase.rules")),
    strengthMeter(passphrase),
    showToggle([passphrase]),
    noRecoveryWarning(),
    error,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const controls = { invitation, code, worker, passphrase };
    const checks = [
      ["invitation", !invitation.value.trim(), "ui.first_run.invitation_missing"],
      ["code", !code.value.trim(), "ui.first_run.code_missing"],
      ["worker", !worker.value.trim(), "ui.first_run.worker_missing"],
      ...newPassphraseChecks("passphrase", passphrase),
    ];
    if (!formIsComplete(error, controls, checks)) return;
    try {
      const status = await busy(submit, () =>
        call("join_deployment", {
          input: {
            invitation: invitation.value.trim(),
            code: code.value.trim(),
            passphrase: passphrase.value,
            worker: worker.value.trim(),
          },
        }),
      );
      passphrase.value = "";
      invitation.value = "";
      code.value = "";
      await finish(status);
    } catch (failure) {
      showError(error, failure);
      markInvalid(failure, controls);
    }
  });
  return form;
}
