// A new case: name first (a first name or nickname is enough), a few optional details, then the
// duplicate check before anything is recorded. What is typed is kept as an encrypted draft.

import { call } from "../api.js";
import { app } from "../app.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { choices, loadLists } from "../codes.js";
import * as drafts from "../drafts.js";
import { busy, clearFaults, dateInput, errorBox, field, pageHeader, picker, showError, showFaults } from "../ui.js";

const DRAFT = "new-case";

const FIELDS = [
  "name",
  "aliases",
  "sex",
  "birth_date",
  "estimated_age",
  "nationalities",
  "languages",
  "phone",
  "location",
];

export async function render(root, route, current) {
  await loadLists();
  const draft = await drafts.load(DRAFT);
  if (!current()) return;
  const forScreening = route.then === "screening";

  const values = draft && typeof draft === "object" && draft.fields ? draft.fields : null;
  const given = (name) => (values && typeof values[name] === "string" ? values[name] : "");
  const codes = (name) =>
    given(name)
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean);
  const keepLater = () => keeper && keeper.keep();
  const controls = {
    name: h("input", { id: "case-name", type: "text", autocomplete: "off", required: true }),
    aliases: h("input", { id: "case-aliases", type: "text", autocomplete: "off" }),
    sex: h(
      "select",
      { id: "case-sex" },
      h("option", { value: "" }, t("ui.common.not_given")),
      choices("sex").map((choice) => h("option", { value: choice.value }, choice.label)),
    ),
    birth_date: dateInput("case-birth-date", ""),
    estimated_age: h("input", { id: "case-estimated-age", type: "text", inputmode: "numeric", autocomplete: "off" }),
    nationalities: picker("case-nationalities", choices("country"), codes("nationalities"), keepLater),
    languages: picker("case-languages", choices("language"), codes("languages"), keepLater),
    phone: h("input", { id: "case-phone", type: "tel", autocomplete: "off" }),
    location: h("input", { id: "case-location", type: "text", autocomplete: "off" }),
  };
  for (const name of ["name", "aliases", "sex", "estimated_age", "phone", "location"]) controls[name].value = given(name);
  controls.birth_date.setText((draft && typeof draft.birth_date_text === "string" && draft.birth_date_text) || given("birth_date"));
  const labels = {
    name: t("ui.new_case.name"),
    aliases: t("ui.field.aliases"),
    sex: t("ui.field.sex"),
    birth_date: t("ui.field.birth_date"),
    estimated_age: t("ui.field.estimated_age"),
    nationalities: t("ui.field.nationalities"),
    languages: t("ui.field.languages"),
    phone: t("ui.field.phone"),
    location: t("ui.field.location"),
  };

  const error = errorBox("new-case-error");
  const duplicates = h("section", { id: "duplicates", class: "notice warning", hidden: true, "aria-labelledby": "duplicates-title", tabindex: "-1" });
  const save = h("button", { id: "case-save", type: "submit", class: "primary" }, forScreening ? t("ui.new_case.save_and_screen") : t("ui.new_case.save"));
  const cancel = h(
    "button",
    {
      id: "case-cancel",
      type: "button",
      onclick: async () => {
        await keeper.drop();
        app.navigate({ screen: "cases" });
      },
    },
    t("ui.common.cancel"),
  );

  const restored = values
    ? h(
        "div",
        { class: "notice info" },
        h("p", {}, t("ui.new_case.draft_restored")),
        h(
          "button",
          {
            type: "button",
            class: "link",
            onclick: () => {
              keeper.drop();
              app.navigate({ ...route });
            },
          },
          t("ui.new_case.draft_clear"),
        ),
      )
    : null;

  const form = h(
    "form",
    { class: "panel wide", novalidate: true },
    restored,
    field(t("ui.new_case.name"), controls.name, t("ui.new_case.name_hint")),
    field(t("ui.new_case.aliases"), controls.aliases, t("ui.new_case.aliases_hint")),
    h(
      "div",
      { class: "row" },
      field(t("ui.field.sex"), controls.sex),
      field(t("ui.field.birth_date"), controls.birth_date, t("ui.date.hint")),
      field(t("ui.field.estimated_age"), controls.estimated_age, t("ui.new_case.age_hint")),
    ),
    field(t("ui.field.nationalities"), controls.nationalities, t("ui.picker.country_hint")),
    field(t("ui.field.languages"), controls.languages, t("ui.picker.language_hint")),
    h("div", { class: "row" }, field(t("ui.field.phone"), controls.phone, t("ui.new_case.phone_hint")), field(t("ui.field.location"), controls.location)),
    error,
    duplicates,
    h("div", { class: "actions sticky-actions" }, save, cancel),
  );

  const collect = () => {
    const fields = {};
    for (const name of FIELDS) {
      const control = controls[name];
      const value = (typeof control.value === "function" ? control.value() : control.value).trim();
      if (value) fields[name] = value;
    }
    return fields;
  };

  // The draft keeps the date as typed too, so a half-typed date comes back as it was.
  const keeper = drafts.keeper(DRAFT, () => {
    const fields = collect();
    if (Object.keys(fields).length === 0) return null;
    const typed = controls.birth_date.text().trim();
    return typed ? { fields, birth_date_text: typed } : { fields };
  });
  form.addEventListener("input", () => {
    duplicates.hidden = true;
    keeper.keep();
  });
  form.addEventListener("change", () => keeper.keep());

  async function create(button) {
    const fields = collect();
    showError(error, null);
    if (forScreening) {
      // A screening records the case only when the person agrees after the opening script:
      // until then what was typed is the draft, and "Not now" drops it.
      await keeper.flush().catch(() => {});
      await app.navigate({ screen: "wizard", pending: true });
      return;
    }
    try {
      const state = await busy(button, () => call("create_case", { fields }));
      await keeper.drop();
      await app.navigate({ screen: "case", id: state.id });
    } catch (failure) {
      showFaults(error, controls, failure, labels);
    }
  }

  function showDuplicates(candidates) {
    const createAnyway = h(
      "button",
      { id: "duplicates-create-anyway", type: "button", onclick: (event) => create(event.currentTarget) },
      t("ui.duplicates.create_anyway"),
    );
    replace(duplicates, 
      h("h2", { id: "duplicates-title" }, t("ui.duplicates.title")),
      h("p", {}, t("ui.duplicates.lead")),
      h(
        "ul",
        { class: "duplicates" },
        candidates.map((candidate, index) =>
          h(
            "li",
            { class: "duplicate", dataset: { code: candidate.code } },
            h("span", { class: "case-code" }, candidate.code),
            h("span", { class: "score" }, t("ui.duplicates.score", { score: candidate.score })),
            h("span", { class: "reasons" }, (candidate.reasons || []).map((reason) => t("match." + reason)).join(" · ")),
            h(
              "button",
              {
                id: index === 0 ? "duplicates-open" : null,
                type: "button",
                class: "duplicates-open",
                onclick: () => app.navigate({ screen: "case", id: candidate.case_id }),
              },
              t("ui.duplicates.open"),
            ),
          ),
        ),
      ),
      h("div", { class: "actions" }, createAnyway),
    );
    duplicates.hidden = false;
    duplicates.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = collect();
    clearFaults(controls);
    showError(error, null);
    let candidates;
    try {
      candidates = await busy(save, () => call("check_duplicates", { fields }));
    } catch (failure) {
      showFaults(error, controls, failure, labels);
      return;
    }
    if (candidates && candidates.length) showDuplicates(candidates);
    else await create(save);
  });

  root.append(
    pageHeader(forScreening ? t("ui.new_case.title_screening") : t("ui.new_case.title"), forScreening ? t("ui.new_case.lead_screening") : t("ui.new_case.lead")),
    form,
  );
  controls.name.focus();
  return () => keeper.stop();
}
