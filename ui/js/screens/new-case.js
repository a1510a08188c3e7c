// A new case: name first (a first name or nickname is enough), a few optional details, then the
// duplicate check before anything is recorded. What is typed is kept as an encrypted draft.

import { call } from "../api.js";
import { app } from "../app.js";
import { debounce, h, replace } from "../dom.js";
import { country, languageName, t } from "../i18n.js";
import { choices, loadLists } from "../codes.js";
import { busy, errorBox, field, markInvalid, pageHeader, showError } from "../ui.js";

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
  let draft = null;
  try {
    draft = await call("load_draft", { key: DRAFT });
  } catch {
    draft = null;
  }
  if (!current()) return;
  const forScreening = route.then === "screening";

  const controls = {
    name: h("input", { id: "case-name", type: "text", autocomplete: "off", required: true }),
    aliases: h("input", { id: "case-aliases", type: "text", autocomplete: "off" }),
    sex: h(
      "select",
      { id: "case-sex" },
      h("option", { value: "" }, t("ui.common.not_given")),
      choices("sex").map((choice) => h("option", { value: choice.value }, choice.label)),
    ),
    birth_date: h("input", { id: "case-birth-date", type: "text", inputmode: "numeric", autocomplete: "off", placeholder: t("ui.common.date_placeholder") }),
    estimated_age: h("input", { id: "case-estimated-age", type: "text", inputmode: "numeric", autocomplete: "off" }),
    nationalities: h("input", { id: "case-nationalities", type: "text", autocomplete: "off", autocapitalize: "characters" }),
    languages: h("input", { id: "case-languages", type: "text", autocomplete: "off", autocapitalize: "off" }),
    phone: h("input", { id: "case-phone", type: "tel", autocomplete: "off" }),
    location: h("input", { id: "case-location", type: "text", autocomplete: "off" }),
  };
  const values = draft && typeof draft === "object" && draft.fields ? draft.fields : null;
  if (values) {
    for (const name of FIELDS) {
      if (typeof values[name] === "string") controls[name].value = values[name];
    }
  }

  const nationalityNames = h("p", { class: "hint echo", "aria-live": "polite" });
  const languageNames = h("p", { class: "hint echo", "aria-live": "polite" });
  const echo = () => {
    nationalityNames.textContent = codesIn(controls.nationalities.value)
      .map((code) => country(code.toUpperCase(), code))
      .join(", ");
    languageNames.textContent = codesIn(controls.languages.value).map((code) => languageName(code.toLowerCase())).join(", ");
  };
  echo();

  const error = errorBox("new-case-error");
  const duplicates = h("section", { id: "duplicates", class: "notice warning", hidden: true, "aria-labelledby": "duplicates-title", tabindex: "-1" });
  const save = h("button", { id: "case-save", type: "submit", class: "primary" }, forScreening ? t("ui.new_case.save_and_screen") : t("ui.new_case.save"));
  const cancel = h("button", { type: "button", onclick: () => app.navigate({ screen: "cases" }) }, t("ui.common.cancel"));

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
            onclick: (event) => {
              for (const control of Object.values(controls)) control.value = "";
              echo();
              call("discard_draft", { key: DRAFT }).catch(() => {});
              event.target.closest(".notice").remove();
              controls.name.focus();
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
      field(t("ui.field.birth_date"), controls.birth_date, t("ui.new_case.birth_date_hint")),
      field(t("ui.field.estimated_age"), controls.estimated_age, t("ui.new_case.age_hint")),
    ),
    h("div", {}, field(t("ui.field.nationalities"), controls.nationalities, t("ui.new_case.nationalities_hint")), nationalityNames),
    h("div", {}, field(t("ui.field.languages"), controls.languages, t("ui.new_case.languages_hint")), languageNames),
    h("div", { class: "row" }, field(t("ui.field.phone"), controls.phone, t("ui.new_case.phone_hint")), field(t("ui.field.location"), controls.location)),
    error,
    duplicates,
    h("div", { class: "actions" }, save, cancel),
  );

  const collect = () => {
    const fields = {};
    for (const name of FIELDS) {
      const value = controls[name].value.trim();
      if (value) fields[name] = value;
    }
    return fields;
  };

  const keep = debounce(() => {
    const fields = collect();
    if (Object.keys(fields).length === 0) call("discard_draft", { key: DRAFT }).catch(() => {});
    else call("save_draft", { key: DRAFT, value: { fields } }).catch(() => {});
  }, 400);
  form.addEventListener("input", () => {
    duplicates.hidden = true;
    echo();
    keep();
  });
  form.addEventListener("change", keep);

  async function create(button) {
    const fields = collect();
    showError(error, null);
    try {
      const state = await busy(button, () => call("create_case", { fields }));
      keep.cancel();
      await call("discard_draft", { key: DRAFT }).catch(() => {});
      if (forScreening) await app.navigate({ screen: "wizard", id: state.id, fresh: true });
      else await app.navigate({ screen: "case", id: state.id });
    } catch (failure) {
      showError(error, failure);
      markInvalid(failure, controls);
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
                onclick: () => {
                  keep.flush();
                  app.navigate({ screen: "case", id: candidate.case_id });
                },
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
    markInvalid(null, controls);
    if (!fields.name) {
      showError(error, t("ui.new_case.name_missing"));
      markInvalid({ kind: "invalid", field: "name" }, controls);
      return;
    }
    showError(error, null);
    let candidates;
    try {
      candidates = await busy(save, () => call("check_duplicates", { fields }));
    } catch (failure) {
      showError(error, failure);
      markInvalid(failure, controls);
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
  return () => keep.flush();
}

function codesIn(text) {
  return text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
}
