// Settings: the interface language (applied at once), auto-lock, the passphrase, a backup to a
// file, and what this laptop is (version, team, device).

import { call } from "../api.js";
import { app } from "../app.js";
import { h, replace } from "../dom.js";
import { LANGUAGES, t } from "../i18n.js";
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

/** Each language is named in itself, so a worker can find theirs in any interface language. */
const LANGUAGE_NAMES = { en: "English", es: "Español", fr: "Français" };

export function render(root) {
  // The controls are made once per visit and moved into each repaint, so that a language change
  // repaints the words without replacing the element the worker (or a test) is using.
  const nodes = makeNodes();
  const paint = () => {
    const status = app.status;
    // The service directory (ui/js/directory-editor.js) fills its slot once it has asked the shell.
    const directorySlot = h("div", { id: "directory-slot" });
    // A standalone laptop can join its organisation from here (ui/js/join-later.js).
    const joinSlot = h("div", { id: "join-later-slot" });
    replace(
      root,
      pageHeader(t("ui.settings.title")),
      h("div", { class: "columns" }, generalPanel(status, nodes, paint), passphrasePanel(nodes)),
      backupPanel(nodes),
      aboutPanel(status),
      joinSlot,
      directorySlot,
    );
    // Joining makes the directory the administrator's: the panel asks the shell again.
    const mountDirectory = () =>
      import("../directory-editor.js").then((editor) => editor.mount(directorySlot)).catch(() => {});
    import("../join-later.js").then((join) => join.mount(joinSlot, mountDirectory)).catch(() => {});
    mountDirectory();
  };
  paint();
  nodes.language.focus();
}

function makeNodes() {
  const status = app.status;
  const language = h(
    "select",
    { id: "settings-language" },
    LANGUAGES.map((code) => h("option", { value: code, lang: code }, LANGUAGE_NAMES[code])),
  );
  language.value = status.language;
  const autoLock = h("input", {
    id: "settings-auto-lock",
    type: "number",
    min: "1",
    max: "240",
    step: "1",
    inputmode: "numeric",
    value: String(status.auto_lock_minutes ?? ""),
  });
  const inactiveDays = h("input", {
    id: "settings-inactive-days",
    type: "number",
    min: "1",
    max: "730",
    step: "1",
    inputmode: "numeric",
    value: String(status.inactive_days ?? 30),
  });
  return {
    language,
    autoLock,
    inactiveDays,
    save: h("button", { id: "settings-save", type: "submit", class: "primary" }),
    current: passphraseInput("passphrase-current", "current-password"),
    next: passphraseInput("passphrase-new", "new-password"),
    confirm: passphraseInput("passphrase-confirm", "new-password"),
    passphraseSave: h("button", { id: "passphrase-save", type: "submit", class: "primary" }),
    saved: h("p", { class: "saved", role: "status" }),
    done: h("p", { id: "passphrase-done", class: "saved", role: "status" }),
    backupPath: h("input", { id: "backup-path", type: "text", autocomplete: "off", spellcheck: "false" }),
    backupSave: h("button", { id: "backup-save", type: "submit", class: "primary" }),
    backupDone: h("p", { id: "backup-done", class: "saved", role: "status" }),
    wired: false,
  };
}

function generalPanel(status, nodes, paint) {
  const { language, autoLock, inactiveDays, save, saved } = nodes;
  save.textContent = t("ui.settings.save");
  const error = errorBox("settings-error");

  async function apply(input) {
    showError(error, null);
    const next = await call("set_settings", { input });
    const changed = app.setStatus(next);
    if (changed) {
      const focused = document.activeElement;
      paint();
      if (focused && focused.isConnected) focused.focus();
    }
    nodes.saved.textContent = t("ui.settings.saved");
  }

  if (!nodes.wired) {
    // The language changes at once: the worker sees the result of their choice.
    language.addEventListener("change", async () => {
      nodes.saved.textContent = "";
      try {
        await apply({ language: language.value });
      } catch (failure) {
        showError(document.getElementById("settings-error"), failure);
      }
    });
  }

  const form = h(
    "form",
    { class: "panel", novalidate: true, "aria-labelledby": "settings-general" },
    h("h2", { id: "settings-general" }, t("ui.settings.general")),
    field(t("ui.settings.language"), language, t("ui.settings.language_hint")),
    field(t("ui.settings.auto_lock"), autoLock, t("ui.settings.auto_lock_hint")),
    field(t("ui.settings.inactive_days"), inactiveDays, t("ui.settings.inactive_days_hint")),
    error,
    saved,
    h("div", { class: "actions" }, save),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    saved.textContent = "";
    const minutes = Number(autoLock.value);
    if (!Number.isInteger(minutes) || minutes < 1) {
      showError(error, t("ui.settings.auto_lock_invalid"));
      autoLock.setAttribute("aria-invalid", "true");
      autoLock.focus();
      return;
    }
    autoLock.removeAttribute("aria-invalid");
    const days = Number(inactiveDays.value);
    if (!Number.isInteger(days) || days < 1 || days > 730) {
      showError(error, t("ui.settings.inactive_days_invalid"));
      inactiveDays.setAttribute("aria-invalid", "true");
      inactiveDays.focus();
      return;
    }
    inactiveDays.removeAttribute("aria-invalid");
    try {
      await busy(save, () => apply({ language: language.value, auto_lock_minutes: minutes, inactive_days: days }));
    } catch (failure) {
      showError(error, failure);
      markInvalid(failure, { auto_lock_minutes: autoLock, inactive_days: inactiveDays, language });
    }
  });
  return form;
}

function passphrasePanel(nodes) {
  const { current, next, confirm, done } = nodes;
  const save = nodes.passphraseSave;
  save.textContent = t("ui.settings.passphrase_save");
  nodes.wired = true;
  const error = errorBox("passphrase-error");
  const form = h(
    "form",
    { class: "panel", novalidate: true, "aria-labelledby": "settings-passphrase" },
    h("h2", { id: "settings-passphrase" }, t("ui.settings.passphrase")),
    field(t("ui.settings.passphrase_current"), current),
    field(t("ui.passphrase.new"), next, t("ui.passphrase.rules")),
    strengthMeter(next),
    field(t("ui.passphrase.confirm"), confirm, t("ui.settings.passphrase_confirm_hint")),
    showToggle([current, next, confirm]),
    h("p", { class: "notice warning" }, t("ui.first_run.no_recovery")),
    error,
    done,
    h("div", { class: "actions" }, save),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    done.textContent = "";
    const controls = { current, new: next, confirm };
    const checks = [["current", !current.value, "ui.settings.passphrase_current_missing"], ...newPassphraseChecks("new", next, confirm)];
    if (!formIsComplete(error, controls, checks)) return;
    try {
      await busy(save, () => call("change_passphrase", { input: { current: current.value, new: next.value } }));
      current.value = "";
      next.value = "";
      confirm.value = "";
      next.dispatchEvent(new Event("input"));
      done.textContent = t("ui.settings.passphrase_changed");
    } catch (failure) {
      showError(error, failure);
      if (failure.kind === "wrong_passphrase") markInvalid({ kind: "invalid", field: "current" }, controls);
      else markInvalid(failure, controls);
    }
  });
  return form;
}

function backupPanel(nodes) {
  const { backupPath, backupDone } = nodes;
  const save = nodes.backupSave;
  save.textContent = t("ui.settings.backup_save");
  const error = errorBox("backup-error");
  const form = h(
    "form",
    { class: "panel", novalidate: true, "aria-labelledby": "settings-backup" },
    h("h2", { id: "settings-backup" }, t("ui.settings.backup")),
    h("p", { class: "hint" }, t("ui.settings.backup_help")),
    field(t("ui.settings.backup_path"), backupPath, t("ui.settings.backup_path_hint")),
    error,
    backupDone,
    h("div", { class: "actions" }, save),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    backupDone.textContent = "";
    const controls = { path: backupPath };
    if (!formIsComplete(error, controls, [["path", !backupPath.value.trim(), "ui.settings.backup_missing"]])) return;
    try {
      const written = await busy(save, () => call("backup_workspace", { input: { path: backupPath.value } }));
      backupDone.textContent = t("ui.settings.backup_done", { cases: written.cases, path: written.path });
    } catch (failure) {
      showError(error, failure);
      markInvalid(failure.kind === "invalid" ? failure : { kind: "invalid", field: "path" }, controls);
    }
  });
  return form;
}

function aboutPanel(status) {
  const line = (label, value, id) => h("div", { class: "kv" }, h("dt", {}, label), h("dd", { id }, value || t("ui.common.none")));
  return h(
    "section",
    { class: "panel", "aria-labelledby": "settings-about" },
    h("h2", { id: "settings-about" }, t("ui.settings.about")),
    h(
      "dl",
      { class: "kvs" },
      line(t("ui.settings.version"), status.version, "about-version"),
      line(t("ui.settings.worker"), status.worker, "about-worker"),
      line(t("ui.settings.team"), status.team, "about-team"),
      line(t("ui.settings.sync"), status.enrolled ? t("ui.settings.enrolled") : t("ui.sync.local_only"), "about-sync"),
      line(t("ui.settings.device"), status.device_id, "about-device"),
    ),
    h("p", { class: "hint" }, t("ui.settings.quick_exit_help")),
  );
}
