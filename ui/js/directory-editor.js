// Settings → Service directory: the services people are referred to, edited in the app by
// whoever may edit them (the person on a standalone laptop, the administrator's laptop in an
// organisation), each text in English and translated into Spanish and French. Other laptops of
// an organisation show the directory their last sync received, read-only.

import { call } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";
import { loadTeams, setDirectory, serviceText } from "./directory.js";
import { busy, errorBox, field, showFaults } from "./ui.js";

/** The texts a service has in each language, with the label of each. */
const TEXTS = [
  ["name", "ui.directory.name"],
  ["hours", "directory.hours"],
  ["contact", "directory.contact"],
  ["description", "ui.directory.description"],
];

const TRANSLATED = [
  ["es", "Español"],
  ["fr", "Français"],
];

/**
 * Fills `slot` with the directory panel: the list to edit, or, on a laptop that may not edit it
 * (an organisation's, not the administrator's), the directory received from the administrator,
 * read-only, each service's texts in the interface's language.
 */
export async function mount(slot) {
  const mayEdit = await call("may_edit_directory").catch(() => false);
  const directory = await call("service_directory");
  setDirectory(directory);
  if (!mayEdit) {
    showReadOnly(slot, directory);
    return;
  }
  await loadTeams();
  showList(slot, directory, null, await toCheck());
}

/** The services to check after another administrator's simultaneous edit (ids). */
function toCheck() {
  return call("service_directory_to_check").catch(() => []);
}

function showReadOnly(slot, directory) {
  const line = (className, label, value) =>
    value ? h("span", { class: className }, `${t(label)}: ${value}`) : null;
  replace(
    slot,
    h(
      "section",
      { id: "directory-panel", class: "panel", dataset: { readonly: "true" }, "aria-labelledby": "directory-title" },
      h("h2", { id: "directory-title" }, t("ui.directory.title")),
      h("p", { class: "muted" }, t("ui.directory.admin_only")),
      h("p", { id: "directory-version", class: "muted" }, t("ui.directory.version", { version: String(directory.version) })),
      h(
        "ul",
        { class: "directory-list" },
        directory.services.map((entry) =>
          h(
            "li",
            { class: "directory-service", dataset: { service: entry.id } },
            h("strong", {}, serviceText(entry, "name")),
            line("directory-contact", "directory.contact", serviceText(entry, "contact")),
            line("directory-hours", "directory.hours", serviceText(entry, "hours")),
            line("directory-phone", "ui.directory.phone", entry.phone),
            line("directory-email", "ui.directory.email", entry.email),
          ),
        ),
      ),
    ),
  );
}

/**
 * The list to edit. `toCheck`: the services another administrator changed while this one did
 * too (their version was kept): named at the top and marked in the list until checked.
 */
function showList(slot, directory, notice, toCheck = []) {
  const names = directory.services.filter((entry) => toCheck.includes(entry.id)).map((entry) => serviceText(entry, "name"));
  const done = h(
    "button",
    {
      id: "directory-to-check-done",
      type: "button",
      onclick: async () => {
        await busy(done, () => call("service_directory_checked"));
        showList(slot, directory, notice, []);
      },
    },
    t("ui.directory.to_check_done"),
  );
  replace(
    slot,
    h(
      "section",
      { id: "directory-panel", class: "panel", "aria-labelledby": "directory-title" },
      h("h2", { id: "directory-title", tabindex: "-1" }, t("ui.directory.title")),
      h("p", { class: "muted" }, t("ui.directory.lead")),
      notice ? h("p", { id: "directory-saved", class: "notice success", role: "status" }, notice) : null,
      names.length
        ? h(
            "div",
            { id: "directory-to-check", class: "notice warning", role: "status" },
            h("p", {}, t("ui.directory.to_check", { services: names.join(", ") })),
            done,
          )
        : null,
      h(
        "ul",
        { class: "directory-list" },
        directory.services.map((entry) =>
          h(
            "li",
            { class: "directory-service", dataset: { service: entry.id, toCheck: toCheck.includes(entry.id) ? "true" : null } },
            h("strong", {}, serviceText(entry, "name")),
            toCheck.includes(entry.id) ? h("span", { class: "badge to-check" }, t("ui.directory.to_check_badge")) : null,
            h("span", { class: "muted" }, ` · ${serviceText(entry, "contact")}`),
            h(
              "button",
              { type: "button", class: "directory-edit", dataset: { service: entry.id }, onclick: () => showForm(slot, directory, entry) },
              t("ui.directory.edit"),
            ),
          ),
        ),
      ),
    ),
  );
}

async function showForm(slot, directory, entry) {
  const teams = await loadTeams();
  const inputs = {};
  const input = (id, value) => h("input", { id, type: "text", autocomplete: "off", value: value || "" });
  const groups = TEXTS.map(([key, label]) => {
    inputs[key] = { en: input(`directory-${key}-en`, entry[key]) };
    for (const [lang] of TRANSLATED) {
      inputs[key][lang] = input(`directory-${key}-${lang}`, entry.translations && entry.translations[lang] && entry.translations[lang][key]);
    }
    return h(
      "fieldset",
      { class: "directory-texts" },
      h("legend", {}, t(label)),
      field("English", inputs[key].en),
      TRANSLATED.map(([lang, name]) => field(name, inputs[key][lang], null)),
    );
  });
  const phone = input("directory-phone", entry.phone);
  const email = input("directory-email", entry.email);
  // In an organisation: the team whose laptops receive this service's referrals, if it is one.
  const team = teams.length
    ? h(
        "select",
        { id: "directory-team" },
        h("option", { value: "" }, t("ui.directory.team_none")),
        teams.map((choice) => h("option", { value: choice.id, selected: choice.id === entry.team }, choice.name)),
      )
    : null;
  const error = errorBox("directory-error");
  const save = h("button", { id: "directory-save", type: "submit", class: "primary" }, t("ui.directory.save"));
  const form = h(
    "form",
    { id: "directory-form", class: "panel", novalidate: true },
    h("h2", { id: "directory-title", tabindex: "-1" }, t("ui.directory.edit_title", { service: serviceText(entry, "name") })),
    h("p", { class: "muted" }, t("ui.directory.translate_hint")),
    groups,
    h("div", { class: "row" }, field(t("ui.directory.phone"), phone, t("ui.directory.phone_hint")), field(t("ui.directory.email"), email)),
    team ? field(t("ui.directory.team"), team, t("ui.directory.team_hint")) : null,
    error,
    h(
      "div",
      { class: "actions" },
      save,
      h("button", { id: "directory-cancel", type: "button", onclick: async () => showList(slot, directory, null, await toCheck()) }, t("ui.common.cancel")),
    ),
  );
  // Each text that must be written is named by its group's label (Name, Hours …), not by the
  // language box it sits in.
  const controls = { phone, email };
  const labels = {};
  for (const [key, label] of TEXTS) {
    controls[key] = inputs[key].en;
    labels[key] = t(label);
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const next = { ...entry, translations: {} };
    const faults = [];
    for (const [key] of TEXTS) {
      const english = inputs[key].en.value.trim();
      if (english) next[key] = english;
      else if (key === "description") delete next.description;
      else faults.push({ field: key, code: "form", sentence: t("ui.directory.missing", { field: labels[key] }) });
      for (const [lang] of TRANSLATED) {
        const text = inputs[key][lang].value.trim();
        if (text) next.translations[lang] = { ...(next.translations[lang] || {}), [key]: text };
      }
    }
    const typedPhone = phone.value.replace(/[\s().-]/g, "");
    if (typedPhone && !/^\+[1-9]\d{1,14}$/.test(typedPhone)) {
      faults.push({ field: "phone", code: "form", sentence: t("ui.directory.phone_invalid") });
    }
    if (faults.length) {
      showFaults(error, controls, { kind: "invalid", faults }, labels);
      return;
    }
    showFaults(error, controls, null);
    if (typedPhone) next.phone = typedPhone;
    else delete next.phone;
    if (email.value.trim()) next.email = email.value.trim();
    else delete next.email;
    if (team && team.value) next.team = team.value;
    else if (team) delete next.team;
    try {
      const saved = await busy(save, () => call("save_service", { service: next }));
      setDirectory(saved);
      showList(slot, saved, t("ui.directory.saved", { service: serviceText(next, "name") }), await toCheck());
      document.getElementById("directory-title").focus();
    } catch (failure) {
      showFaults(error, controls, failure, labels);
    }
  });
  replace(slot, form);
  inputs.name.en.focus();
}
