// The case page's "Identification and justice": the facts the task force's figures count
// (issue 12). The identification fields are case fields, set with `update_case`; the stages of
// the trafficking process, the justice steps, perpetrators (coded, never named) and services
// received are append-only entries, each added with its own command (commands/desk.rs), which
// parses as the command line does and records through the same core function. Coded values are
// shown as labels in the worker's language, dates in the language's way. A closed case shows
// the section without its forms. What is typed in a form is kept as the draft `desk:<case id>`.

import { call } from "../api.js";
import { h, replace, uid } from "../dom.js";
import { country, dateTime, day, fieldLabel, language, t } from "../i18n.js";
import { choices, codeLabel } from "../codes.js";
import * as drafts from "../drafts.js";
import { busy, dateInput, errorBox, field, parseDay, picker, showFaults, writeDay } from "../ui.js";

/** The fields of the identification form, in its order (case fields, sent with `update_case`). */
const IDENTIFICATION = ["identification_status", "identification_date", "identified_by", "country_of_exploitation", "recruiter_relation", "recruitment_methods"];

function closedCase(state) {
  return ["closed", "closed_referred"].includes(state.fields.status);
}

function by(stamp) {
  return t("ui.common.by_when", { who: stamp.author, when: dateTime(stamp.hlc.wall_ms) });
}

function order(stamp) {
  return stamp.hlc.wall_ms * 1e6 + stamp.hlc.counter;
}

/** A date known to the year, the month or the day (`~2023-05`), in the reader's language. */
function approxDay(text) {
  if (!text) return "";
  const approximate = text.startsWith("~");
  const [year, month, dayOfMonth] = text.replace(/^~/, "").split("-").map(Number);
  let shown;
  if (dayOfMonth) shown = day(text.replace(/^~/, ""));
  else if (month) shown = new Intl.DateTimeFormat(language(), { month: "long", year: "numeric", timeZone: "UTC" }).format(new Date(Date.UTC(year, month - 1, 1)));
  else shown = String(year);
  return approximate ? t("ui.desk.about", { date: shown }) : shown;
}

/**
 * What the worker typed for a date known to the day, the month or the year (31/05/2023,
 * 05/2023, 2023), written as core reads it (YYYY, YYYY-MM or YYYY-MM-DD, `~` when approximate);
 * anything else is sent as it is, and core says what is wrong.
 */
function partialDay(text, approximate) {
  const value = (text || "").trim();
  if (!value) return "";
  let written = null;
  const whole = parseDay(value);
  if (whole) written = whole;
  else if (/^\d{4}$/.test(value)) written = value;
  else {
    const month = /^(\d{1,2})[/.\-](\d{4})$/.exec(value) || /^(\d{4})-(\d{1,2})$/.exec(value);
    if (month) {
      const [m, y] = value.startsWith(month[1]) && month[1].length === 4 ? [Number(month[2]), month[1]] : [Number(month[1]), month[2]];
      if (m >= 1 && m <= 12) written = `${y}-${String(m).padStart(2, "0")}`;
    }
  }
  if (!written) return value;
  return approximate ? `~${written}` : written;
}

function select(id, list, value, empty) {
  const control = h(
    "select",
    { id },
    h("option", { value: "" }, empty || t("ui.common.not_given")),
    choices(list).map((choice) => h("option", { value: choice.value }, choice.label)),
  );
  control.value = value || "";
  return control;
}

/** Checkboxes of a coded list, as one field that can be marked at fault. */
function checks(id, legend, list, chosen) {
  const group = h(
    "fieldset",
    { class: "checks", id },
    h("legend", {}, legend),
    choices(list).map((choice) => {
      const box = h("input", { type: "checkbox", id: uid(id), value: choice.value, checked: (chosen || []).includes(choice.value) });
      return h("div", { class: "check" }, box, h("label", { for: box.id }, choice.label));
    }),
  );
  group.chosen = () => [...group.querySelectorAll("input:checked")].map((box) => box.value);
  return { input: group, element: h("div", {}, h("p", { id: `${id}-fault`, class: "field-fault", hidden: true }), group), chosen: group.chosen };
}

/** Wraps a checkbox group so `showFaults` finds the `.field` around it. */
function groupField(group) {
  return h("div", { class: "field" }, group.element);
}

/** A perpetrator's number on this case (1, 2 …, in the order they were recorded). */
function perpetratorNumbers(state) {
  const numbers = new Map();
  [...(state.perpetrators || [])].sort((a, b) => order(a.recorded) - order(b.recorded)).forEach((item, index) => numbers.set(item.id, index + 1));
  return numbers;
}

function listOrNone(id, items, none) {
  return items.length ? h("ul", { id, class: "desk-list" }, items) : h("p", { id, class: "muted" }, none);
}

function newestFirst(entries) {
  return [...(entries || [])].sort((a, b) => order(b.recorded) - order(a.recorded));
}

function dateRange(from, to, write) {
  if (from && to) return t("ui.desk.from_to", { from: write(from), to: write(to) });
  if (from) return t("ui.desk.since", { date: write(from) });
  if (to) return t("ui.desk.until", { date: write(to) });
  return "";
}

/** The section's view of the case: every fact as words. */
function paintView(root, state, actions) {
  const f = state.fields;
  const closed = closedCase(state);
  const numbers = perpetratorNumbers(state);
  const button = (id, key, form) => (closed ? null : h("button", { id, type: "button", onclick: () => actions.open(form) }, t(key)));
  const kv = (name, value, id, data) =>
    h("div", { class: "kv", dataset: { field: name } }, h("dt", {}, fieldLabel(name)), h("dd", { id, dataset: data }, value || t("ui.common.empty")));
  const process = newestFirst(state.process).map((event) =>
    h(
      "li",
      { class: "process-event", dataset: { stage: event.stage, country: event.country } },
      h("strong", {}, codeLabel("process_stage", event.stage)),
      " · ",
      country(event.country),
      event.place ? ` · ${event.place}` : "",
      event.from || event.to ? ` · ${dateRange(event.from, event.to, approxDay)}` : "",
      h("p", { class: "muted" }, by(event.recorded)),
    ),
  );
  const justice = newestFirst(state.justice).map((step) =>
    h(
      "li",
      { class: "justice-step", dataset: { stage: step.stage } },
      h("strong", {}, codeLabel("justice_stage", step.stage)),
      step.date ? ` · ${day(step.date)}` : "",
      step.sentence_months !== undefined && step.sentence_months !== null ? ` · ${t("ui.desk.sentence_months", { n: step.sentence_months })}` : "",
      step.perpetrator && numbers.has(step.perpetrator) ? ` · ${t("ui.desk.perpetrator_n", { n: numbers.get(step.perpetrator) })}` : "",
      h("p", { class: "muted" }, by(step.recorded)),
    ),
  );
  const perpetrators = [...(state.perpetrators || [])]
    .sort((a, b) => order(a.recorded) - order(b.recorded))
    .map((perpetrator) =>
      h(
        "li",
        { class: "perpetrator", dataset: { id: perpetrator.id } },
        h("strong", {}, t("ui.desk.perpetrator_n", { n: numbers.get(perpetrator.id) })),
        " · ",
        perpetrator.roles.map((role) => codeLabel("perpetrator_role", role)).join(", "),
        perpetrator.sex ? ` · ${codeLabel("sex", perpetrator.sex)}` : "",
        perpetrator.nationality ? ` · ${country(perpetrator.nationality)}` : "",
        perpetrator.relationship ? ` · ${codeLabel("recruiter_relation", perpetrator.relationship)}` : "",
        h("p", { class: "muted" }, by(perpetrator.recorded)),
      ),
    );
  const services = newestFirst(state.services).map((service) =>
    h(
      "li",
      { class: "service-received", dataset: { type: service.service_type } },
      h("strong", {}, codeLabel("service_type", service.service_type)),
      " · ",
      dateRange(service.date, service.until, day),
      h("p", { class: "muted" }, by(service.recorded)),
    ),
  );
  replace(
    root,
    h("div", { class: "section-header" }, h("h3", {}, t("ui.desk.identification_title")), h("div", { class: "section-actions" }, button("desk-edit-identification", "ui.desk.edit_identification", "identification"))),
    h(
      "dl",
      { class: "kvs summary", id: "desk-facts" },
      kv("identification_status", f.identification_status ? codeLabel("identification_status", f.identification_status) : "", "desk-identification-status", { status: f.identification_status || "none" }),
      kv("identification_date", f.identification_date ? day(f.identification_date) : "", "desk-identification-date"),
      kv("identified_by", f.identified_by ? codeLabel("organisation_type", f.identified_by) : "", "desk-identified-by"),
      kv("country_of_exploitation", f.country_of_exploitation ? country(f.country_of_exploitation) : "", "desk-country-of-exploitation"),
      kv("recruiter_relation", f.recruiter_relation ? codeLabel("recruiter_relation", f.recruiter_relation) : "", "desk-recruiter-relation"),
      kv("recruitment_methods", (f.recruitment_methods || []).map((method) => codeLabel("recruitment_method", method)).join(", "), "desk-recruitment-methods"),
    ),
    h("div", { class: "section-header" }, h("h3", {}, t("ui.desk.process_title")), h("div", { class: "section-actions" }, button("add-process", "ui.desk.add_process", "process"))),
    listOrNone("desk-process", process, t("ui.desk.process_none")),
    h("div", { class: "section-header" }, h("h3", {}, t("ui.desk.justice_title")), h("div", { class: "section-actions" }, button("add-justice", "ui.desk.add_justice", "justice"))),
    listOrNone("desk-justice", justice, t("ui.desk.justice_none")),
    h("div", { class: "section-header" }, h("h3", {}, t("ui.desk.perpetrators_title")), h("div", { class: "section-actions" }, button("add-perpetrator", "ui.desk.add_perpetrator", "perpetrator"))),
    h("p", { class: "hint" }, t("ui.desk.perpetrators_lead")),
    listOrNone("desk-perpetrators", perpetrators, t("ui.desk.perpetrators_none")),
    h("div", { class: "section-header" }, h("h3", {}, t("ui.desk.services_title")), h("div", { class: "section-actions" }, button("add-service", "ui.desk.add_service", "service"))),
    listOrNone("desk-services", services, t("ui.desk.services_none")),
  );
}

// ---- The forms -------------------------------------------------------------------------------

/**
 * Each form: its controls (name → control, as the command names the field), their labels, its
 * title key, and `send(values)` recording it. `typed` is a draft's values, when one came back.
 */
function identificationForm(state, typed) {
  const f = state.fields;
  const start = (name, value) => (typeof typed[name] === "string" ? typed[name] : value || "");
  const date = dateInput("desk-form-identification-date", "");
  date.setText(typeof typed.identification_date === "string" ? typed.identification_date : writeDay(f.identification_date));
  const current = start("country_of_exploitation", f.country_of_exploitation);
  const controls = {
    identification_status: select("desk-form-identification-status", "identification_status", start("identification_status", f.identification_status)),
    identification_date: date,
    identified_by: select("desk-form-identified-by", "organisation_type", start("identified_by", f.identified_by)),
    country_of_exploitation: picker("desk-form-country-of-exploitation", choices("country"), current ? [current] : [], null, true),
    recruiter_relation: select("desk-form-recruiter-relation", "recruiter_relation", start("recruiter_relation", f.recruiter_relation)),
    recruitment_methods: checks("desk-form-recruitment-methods", fieldLabel("recruitment_methods"), "recruitment_method", Array.isArray(typed.recruitment_methods) ? typed.recruitment_methods : f.recruitment_methods),
  };
  const labels = Object.fromEntries(IDENTIFICATION.map((name) => [name, fieldLabel(name)]));
  const read = () => ({
    identification_status: controls.identification_status.value,
    identification_date: date.text(),
    identified_by: controls.identified_by.value,
    country_of_exploitation: controls.country_of_exploitation.value(),
    recruiter_relation: controls.recruiter_relation.value,
    recruitment_methods: controls.recruitment_methods.chosen(),
  });
  const before = {
    identification_status: f.identification_status || "",
    identification_date: f.identification_date || "",
    identified_by: f.identified_by || "",
    country_of_exploitation: f.country_of_exploitation || "",
    recruiter_relation: f.recruiter_relation || "",
    recruitment_methods: (f.recruitment_methods || []).join(", "),
  };
  return {
    id: "desk-identification-form",
    title: "ui.desk.identification_title",
    controls,
    labels,
    read,
    body: [
      h("div", { class: "row" }, field(labels.identification_status, controls.identification_status), field(labels.identification_date, date, t("ui.date.hint"))),
      field(labels.identified_by, controls.identified_by),
      h("div", { class: "row" }, field(labels.country_of_exploitation, controls.country_of_exploitation, t("ui.desk.country_hint")), field(labels.recruiter_relation, controls.recruiter_relation)),
      groupField(controls.recruitment_methods),
    ],
    send: () => {
      const now = {
        identification_status: controls.identification_status.value,
        identification_date: date.value(),
        identified_by: controls.identified_by.value,
        country_of_exploitation: controls.country_of_exploitation.value(),
        recruiter_relation: controls.recruiter_relation.value,
        recruitment_methods: controls.recruitment_methods.chosen().join(", "),
      };
      const values = Object.fromEntries(Object.entries(now).filter(([name, value]) => value.trim() !== before[name]));
      if (!Object.keys(values).length) return Promise.resolve(null);
      return call("update_case", { id: state.id, values });
    },
  };
}

function processForm(state, typed) {
  const text = (id, name) => h("input", { id, type: "text", autocomplete: "off", value: typeof typed[name] === "string" ? typed[name] : "" });
  const approximate = h("input", { id: "process-approximate", type: "checkbox", checked: Boolean(typed.approximate) });
  const chosen = typeof typed.country === "string" && typed.country ? [typed.country] : [];
  const controls = {
    stage: select("process-stage", "process_stage", typed.stage, t("ui.desk.choose")),
    country: picker("process-country", choices("country"), chosen, null, true),
    place: text("process-place", "place"),
    from: text("process-from", "from"),
    to: text("process-to", "to"),
  };
  const labels = { stage: t("ui.desk.stage"), country: t("ui.desk.country"), place: t("ui.desk.place"), from: t("ui.desk.from"), to: t("ui.desk.to") };
  return {
    id: "desk-process-form",
    title: "ui.desk.process_form_title",
    controls,
    labels,
    read: () => ({ stage: controls.stage.value, country: controls.country.value(), place: controls.place.value, from: controls.from.value, to: controls.to.value, approximate: approximate.checked }),
    body: [
      h("div", { class: "row" }, field(labels.stage, controls.stage), field(labels.country, controls.country, t("ui.desk.country_hint"))),
      field(labels.place, controls.place),
      h("div", { class: "row" }, field(labels.from, controls.from, t("ui.desk.partial_date_hint")), field(labels.to, controls.to, t("ui.desk.partial_date_hint"))),
      h("div", { class: "check" }, approximate, h("label", { for: "process-approximate" }, t("ui.desk.approximate"))),
    ],
    send: () =>
      call("add_process_event", {
        id: state.id,
        input: {
          stage: controls.stage.value,
          country: controls.country.value(),
          place: controls.place.value,
          from: partialDay(controls.from.value, approximate.checked),
          to: partialDay(controls.to.value, approximate.checked),
        },
      }),
  };
}

function justiceForm(state, typed) {
  const numbers = perpetratorNumbers(state);
  const date = dateInput("justice-date", "");
  date.setText(typeof typed.date === "string" ? typed.date : "");
  const perpetrator = h(
    "select",
    { id: "justice-perpetrator" },
    h("option", { value: "" }, t("ui.desk.no_perpetrator")),
    [...numbers.entries()].map(([id, n]) => h("option", { value: id }, t("ui.desk.perpetrator_n", { n }))),
  );
  perpetrator.value = typeof typed.perpetrator === "string" && numbers.has(typed.perpetrator) ? typed.perpetrator : "";
  const controls = {
    stage: select("justice-stage", "justice_stage", typed.stage, t("ui.desk.choose")),
    date,
    perpetrator,
    sentence: h("input", { id: "justice-sentence", type: "text", inputmode: "numeric", autocomplete: "off", value: typeof typed.sentence === "string" ? typed.sentence : "" }),
  };
  const labels = { stage: t("ui.desk.justice_stage"), date: t("ui.desk.date"), perpetrator: t("ui.desk.perpetrator"), sentence: t("ui.desk.sentence") };
  return {
    id: "desk-justice-form",
    title: "ui.desk.justice_form_title",
    controls,
    labels,
    read: () => ({ stage: controls.stage.value, date: date.text(), perpetrator: perpetrator.value, sentence: controls.sentence.value }),
    body: [
      h("div", { class: "row" }, field(labels.stage, controls.stage), field(labels.date, date, t("ui.desk.justice_date_hint"))),
      numbers.size ? field(labels.perpetrator, perpetrator) : null,
      field(labels.sentence, controls.sentence, t("ui.desk.sentence_hint")),
    ],
    send: () =>
      call("add_justice_step", {
        id: state.id,
        input: { stage: controls.stage.value, date: date.value(), perpetrator: perpetrator.value, sentence: controls.sentence.value },
      }),
  };
}

function perpetratorForm(state, typed) {
  const chosen = typeof typed.nationality === "string" && typed.nationality ? [typed.nationality] : [];
  const controls = {
    roles: checks("perpetrator-roles", t("ui.desk.roles"), "perpetrator_role", Array.isArray(typed.roles) ? typed.roles : []),
    sex: select("perpetrator-sex", "sex", typed.sex),
    perpetrator_nationality: picker("perpetrator-nationality", choices("country"), chosen, null, true),
    relationship: select("perpetrator-relationship", "recruiter_relation", typed.relationship),
  };
  const labels = { roles: t("ui.desk.roles"), sex: fieldLabel("sex"), perpetrator_nationality: t("ui.desk.nationality"), relationship: t("ui.desk.relationship") };
  return {
    id: "desk-perpetrator-form",
    title: "ui.desk.perpetrator_form_title",
    controls,
    labels,
    read: () => ({ roles: controls.roles.chosen(), sex: controls.sex.value, nationality: controls.perpetrator_nationality.value(), relationship: controls.relationship.value }),
    body: [
      h("p", { class: "hint" }, t("ui.desk.perpetrators_lead")),
      groupField(controls.roles),
      h("div", { class: "row" }, field(labels.sex, controls.sex), field(labels.perpetrator_nationality, controls.perpetrator_nationality, t("ui.desk.country_hint"))),
      field(labels.relationship, controls.relationship),
    ],
    send: () =>
      call("add_perpetrator", {
        id: state.id,
        input: { roles: controls.roles.chosen(), sex: controls.sex.value, nationality: controls.perpetrator_nationality.value(), relationship: controls.relationship.value },
      }),
  };
}

function serviceForm(state, typed) {
  const date = dateInput("service-date", "");
  date.setText(typeof typed.date === "string" ? typed.date : "");
  const until = dateInput("service-until", "");
  until.setText(typeof typed.until === "string" ? typed.until : "");
  const controls = { service_type: select("service-type", "service_type", typed.service_type, t("ui.desk.choose")), date, until };
  const labels = { service_type: t("ui.desk.service_type"), date: t("ui.desk.service_date"), until: t("ui.desk.service_until") };
  return {
    id: "desk-service-form",
    title: "ui.desk.service_form_title",
    controls,
    labels,
    read: () => ({ service_type: controls.service_type.value, date: date.text(), until: until.text() }),
    body: [
      field(labels.service_type, controls.service_type),
      h("div", { class: "row" }, field(labels.date, date, t("ui.date.hint")), field(labels.until, until, t("ui.desk.service_until_hint"))),
    ],
    send: () => call("add_service_received", { id: state.id, input: { service_type: controls.service_type.value, date: date.value(), until: until.value() } }),
  };
}

const FORMS = { identification: identificationForm, process: processForm, justice: justiceForm, perpetrator: perpetratorForm, service: serviceForm };

/**
 * The section on the case page. `paint(state)` redraws the facts (an open form stays as it is);
 * `restore()` reopens a form whose draft came back. `update(next)` redraws the whole page after
 * a change.
 */
export function deskSection(caseId, update) {
  const view = h("div", { class: "desk-view" });
  const slot = h("div", { class: "desk-form-slot" });
  const key = `desk:${caseId}`;
  let state = null;
  let open = null;
  const element = h("section", { id: "case-desk", class: "panel", "aria-labelledby": "desk-title" }, h("h2", { id: "desk-title", tabindex: "-1" }, t("ui.desk.title")), view, slot);

  function close(focusId) {
    if (open) open.keeper.stop();
    open = null;
    slot.replaceChildren();
    const target = focusId && document.getElementById(focusId);
    (target || document.getElementById("desk-title")).focus();
  }

  function openForm(kind, draft) {
    if (!state || closedCase(state)) return;
    if (open) open.keeper.drop();
    const typed = (draft && draft.values) || {};
    const form = FORMS[kind](state, typed);
    const opener = { identification: "desk-edit-identification", process: "add-process", justice: "add-justice", perpetrator: "add-perpetrator", service: "add-service" }[kind];
    let untouched = null;
    const keeper = drafts.keeper(key, () => {
      const now = JSON.stringify({ form: kind, values: form.read() });
      return now === untouched ? null : JSON.parse(now);
    });
    const error = errorBox("desk-error");
    const save = h("button", { id: "desk-save", type: "submit", class: "primary" }, t("ui.desk.record"));
    const cancel = h(
      "button",
      {
        id: "desk-cancel",
        type: "button",
        onclick: () => {
          keeper.drop();
          open = null;
          slot.replaceChildren();
          const back = document.getElementById(opener);
          if (back) back.focus();
        },
      },
      t("ui.common.cancel"),
    );
    const element = h(
      "form",
      { id: form.id, class: "desk-form", novalidate: true, dataset: { form: kind } },
      h("h3", { id: "desk-form-title", tabindex: "-1" }, t(form.title)),
      draft ? h("p", { id: "desk-restored", class: "notice info" }, t("ui.desk.restored")) : null,
      form.body,
      error,
      h("div", { class: "actions sticky-actions" }, save, cancel),
    );
    element.addEventListener("input", () => keeper.keep());
    element.addEventListener("change", () => keeper.keep());
    element.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const result = await busy(save, () => form.send());
        await keeper.drop();
        open = null;
        slot.replaceChildren();
        if (result) await update(result.case || result);
        const back = document.getElementById(opener);
        (back || document.getElementById("desk-title")).focus();
      } catch (failure) {
        showFaults(error, form.controls, failure, form.labels);
      }
    });
    open = { kind, keeper };
    replace(slot, element);
    if (!draft) untouched = JSON.stringify({ form: kind, values: form.read() });
    element.scrollIntoView({ block: "start" });
    const first = Object.values(form.controls)[0];
    (first.input || first).focus({ preventScroll: true });
  }

  return {
    element,
    paint(next) {
      state = next;
      paintView(view, state, { open: (kind) => openForm(kind) });
      if (open && closedCase(state)) close();
    },
    /** Reopens the form a draft holds (not on a closed case). */
    async restore() {
      const draft = await drafts.load(key);
      if (draft && typeof draft === "object" && FORMS[draft.form] && state && !closedCase(state)) openForm(draft.form, draft);
      return Boolean(open);
    },
  };
}
