// The case page: who (header), what needs review, a summary, referrals and their status,
// consents, notes and a timeline of everything that happened, with who and when.

import { call } from "../api.js";
import { app } from "../app.js";
import { h, replace, uid } from "../dom.js";
import { country, dateTime, day, fieldLabel, languageName, t, tx } from "../i18n.js";
import { choices, codeLabel, loadLists } from "../codes.js";
import { loadDirectory, serviceName } from "../directory.js";
import * as drafts from "../drafts.js";
import { letterControl } from "../letter.js";
import { busy, dateInput, errorBox, field, picker, showError, showFaults, writeDay } from "../ui.js";
import { deskSection } from "./case-desk.js";

/** The case on screen; dropped when Harbour locks. */
let shown = null;

export function forget() {
  shown = null;
}

const NEXT_STATUS = { sent: ["accepted", "declined"], accepted: ["completed"], declined: [], completed: [] };

const STATUS_ACTION_KEYS = {
  accepted: "ui.referrals.mark_accepted",
  declined: "ui.referrals.mark_declined",
  completed: "ui.referrals.mark_completed",
};

/** A field's value as words. */
export function valueText(name, value) {
  if (value === null || value === undefined || (Array.isArray(value) && value.length === 0) || value === "") {
    return t("ui.common.empty");
  }
  switch (name) {
    case "sex":
      return codeLabel("sex", value);
    case "status":
      return codeLabel("case_status", value);
    case "risk_level":
      return codeLabel("risk_level", value);
    case "exploitation_types":
      return value.map((item) => codeLabel("exploitation_type", item)).join(", ");
    case "means_of_control":
      return value.map((item) => codeLabel("means_of_control", item)).join(", ");
    case "nationalities":
      return value.map((code) => country(code)).join(", ");
    case "languages":
      return value.map(languageName).join(", ");
    case "birth_date":
    case "identification_date":
    case "intake_date":
      return day(value);
    case "identification_status":
      return codeLabel("identification_status", value);
    case "identified_by":
      return codeLabel("organisation_type", value);
    case "country_of_exploitation":
      return country(value);
    case "recruiter_relation":
      return codeLabel("recruiter_relation", value);
    case "recruitment_methods":
      return value.map((item) => codeLabel("recruitment_method", item)).join(", ");
    case "labour_sectors":
      return value.map((item) => codeLabel("labour_sector", item)).join(", ");
    case "estimated_age":
      return t("ui.case.age_estimate", { years: value.years, date: day(value.as_of) });
    default:
      return Array.isArray(value) ? value.join(", ") : String(value);
  }
}

/** A field's value as the text `update_case` reads back (lists comma-separated). */
function valueInput(name, value) {
  if (value === null || value === undefined) return "";
  if (name === "estimated_age") return String(value.years);
  return Array.isArray(value) ? value.join(", ") : String(value);
}

function by(stamp) {
  return t("ui.common.by_when", { who: stamp.author, when: dateTime(stamp.hlc.wall_ms) });
}

function order(stamp) {
  return stamp.hlc.wall_ms * 1e6 + stamp.hlc.counter;
}

/**
 * A fresh state with its entries: a write may answer with the stored projection only. Asked
 * for as a redraw after the change, so the audit log gets no second view of the case.
 */
async function full(caseState, id) {
  if (caseState && Array.isArray(caseState.history) && caseState.history.length) return { case: caseState };
  return call("get_case_after_change", { id });
}

let forms = null;

/** The draft key (with `:<case id>`) holding the screening whose suggestion was set aside here. */
const SUGGESTION_DISMISSED = "suggestion-dismissed";
/** The coded reason of an edit that took a screening's result (`store::FROM_SCREENING` in core). */
const FROM_SCREENING = "from_screening:";

async function formTitles() {
  if (!forms) {
    try {
      forms = await call("list_forms");
    } catch {
      forms = [];
    }
  }
  return forms;
}

export async function render(root, route, current) {
  const [result] = await Promise.all([call("get_case", { id: route.id }), loadLists(), loadDirectory().catch(() => null), formTitles()]);
  if (!current()) return;
  // Work typed on this case and not recorded yet (an edit, a closing, a referral) comes back.
  const caseId = result.case.id;
  const [editDraft, statusDraft, referralDraft, screeningDraft, dismissed] = await Promise.all([
    drafts.load(`edit:${caseId}`),
    drafts.load(`status:${caseId}`),
    drafts.load(`referral:${caseId}`),
    drafts.load(`screening:${caseId}`),
    drafts.load(`${SUGGESTION_DISMISSED}:${caseId}`),
  ]);
  if (!current()) return;
  shown = {
    state: result.case,
    warnings: result.clock_warnings || [],
    canDiscard: Boolean(result.can_discard),
    delivery: result.referral_delivery || {},
    teams: result.referral_teams || {},
    suggestion: result.suggestion || null,
    dismissed: typeof dismissed === "string" ? dismissed : null,
  };
  const id = shown.state.id;

  const header = h("div", { class: "case-header" });
  const review = h("div", { class: "review-slot" });
  const suggestion = h("div", { class: "suggestion-slot" });
  const summary = h("section", { class: "panel", "aria-labelledby": "summary-title" });
  const referrals = h("section", { class: "panel", "aria-labelledby": "referrals-title" });
  const referralSlot = h("div", { class: "referral-slot" });
  const consents = h("section", { class: "panel", "aria-labelledby": "consents-title" });
  const screenings = h("section", { id: "case-screenings", class: "panel", "aria-labelledby": "screenings-title" });
  const timeline = h("section", { class: "panel", "aria-labelledby": "timeline-title" });
  const notes = noteForm(id);
  const desk = deskSection(id, update);

  function paint() {
    if (!shown) return;
    const state = shown.state;
    paintHeader(header, state, openReferral, screeningDraft);
    paintReview(review, state, shown.warnings, update);
    paintSuggestion(suggestion, state, update);
    paintSummary(summary, state, update);
    desk.paint(state);
    paintReferrals(referrals, state, update);
    paintConsents(consents, state);
    paintScreenings(screenings, state, screeningDraft);
    paintTimeline(timeline, state);
  }

  async function update(next) {
    if (!shown || !current()) return;
    const page = await full(next, id);
    shown.state = page.case;
    if (page.referral_delivery) shown.delivery = page.referral_delivery;
    if (page.referral_teams) shown.teams = page.referral_teams;
    if ("can_discard" in page) shown.canDiscard = Boolean(page.can_discard);
    if ("suggestion" in page) shown.suggestion = page.suggestion || null;
    if (current()) paint();
  }

  async function openReferral(serviceId, draft) {
    const { openReferralForm } = await import("../referral.js");
    await openReferralForm(referralSlot, {
      caseId: id,
      serviceId,
      draft,
      referred: activeReferrals(shown.state),
      onDone: async (next) => {
        referralSlot.replaceChildren();
        await update(next);
        const heading = document.getElementById("referrals-title");
        if (heading) heading.focus();
      },
      onCancel: () => {
        referralSlot.replaceChildren();
        document.getElementById("add-referral").focus();
      },
    });
    referralSlot.scrollIntoView({ block: "start" });
  }

  notes.onSaved = update;
  paint();
  root.append(
    header,
    review,
    suggestion,
    h(
      "div",
      { class: "case-columns" },
      h("div", { class: "case-main" }, summary, desk.element, referrals, referralSlot, consents, screenings),
      h("div", { class: "case-side" }, notes.element, timeline),
    ),
  );
  await notes.load();
  const closed = ["closed", "closed_referred"].includes(shown.state.fields.status);
  const deskRestored = await desk.restore();
  if (editDraft && typeof editDraft === "object") editForm(summary, shown.state, update, editDraft);
  else if (statusDraft && typeof statusDraft === "object") statusForm(summary, shown.state, update, statusDraft.action, statusDraft);
  if (referralDraft && typeof referralDraft === "object" && !closed) await openReferral(referralDraft.service || undefined, referralDraft);
  else if (route.refer && !closed) await openReferral(route.refer);
  else if (!editDraft && !statusDraft && !deskRestored) document.getElementById("case-title").focus();
  // After a sync, the referrals say how far they got now (sent, delivered to the team), without
  // redrawing the rest of the page the worker may be typing in.
  const onSynced = async () => {
    if (!shown || !current()) return;
    // The sync may have brought a newer service directory: the names are read again first.
    const [news] = await Promise.all([call("referral_news", { id }).catch(() => null), loadDirectory().catch(() => null)]);
    if (!news || !shown || !current()) return;
    if (JSON.stringify(news.delivery) === JSON.stringify(shown.delivery) && JSON.stringify(news.teams) === JSON.stringify(shown.teams)) return;
    shown.delivery = news.delivery;
    shown.teams = news.teams;
    for (const referral of shown.state.referrals || []) {
      if (news.receipts && news.receipts[referral.id]) referral.delivered = news.receipts[referral.id];
    }
    paintReferrals(referrals, shown.state, update);
    paintTimeline(timeline, shown.state);
  };
  window.addEventListener("harbour:synced", onSynced);
  return () => {
    window.removeEventListener("harbour:synced", onSynced);
    return drafts.flushAll();
  };
}

// ---- Header ---------------------------------------------------------------------------------

/** Services with an open referral (sent or accepted): the form does not offer them again. */
function activeReferrals(state) {
  return (state.referrals || []).filter((referral) => ["sent", "accepted"].includes(referral.status)).map((referral) => referral.service);
}

function paintHeader(root, state, openReferral, screeningDraft) {
  const f = state.fields;
  // A closed case takes notes and can be reopened; screening and referring wait for reopening.
  const closed = f.status === "closed" || f.status === "closed_referred";
  const paused = screeningDraft && typeof screeningDraft === "object" && screeningDraft.form ? screeningDraft : null;
  const answered = paused ? Object.keys(paused.answers || {}).length : 0;
  const startScreening = closed
    ? null
    : h(
        "button",
        { id: "start-screening", type: "button", class: "primary", onclick: () => app.navigate({ screen: "wizard", id: state.id }) },
        paused ? t("ui.case.resume_screening") : t("ui.case.start_screening"),
      );
  const addReferral = closed ? null : h("button", { id: "add-referral", type: "button", onclick: () => openReferral() }, t("ui.case.add_referral"));
  const addNote = h(
    "button",
    {
      id: "add-note",
      type: "button",
      onclick: () => {
        const text = document.getElementById("note-text");
        text.scrollIntoView({ block: "center" });
        text.focus();
      },
    },
    t("ui.case.add_note"),
  );
  replace(root, 
    h(
      "div",
      { class: "page-header" },
      h(
        "div",
        { class: "page-titles" },
        h("p", { class: "eyebrow" }, h("a", { href: "#", class: "back", onclick: (event) => { event.preventDefault(); app.navigate({ screen: "cases" }); } }, t("ui.common.back_to_cases"))),
        h("h1", { id: "case-title", tabindex: "-1" }, f.name),
        h(
          "p",
          { class: "case-facts" },
          h("span", { class: "fact" }, t("ui.case.code"), " ", h("strong", { id: "case-code" }, state.code)),
          h("span", { class: "fact" }, t("ui.field.status"), " ", h("strong", { id: "case-status", dataset: { status: f.status } }, codeLabel("case_status", f.status))),
          h("span", { class: "fact" }, t("ui.field.risk_level"), " ", h("strong", { id: "case-risk", dataset: { risk: f.risk_level || "none" } }, f.risk_level ? codeLabel("risk_level", f.risk_level) : t("ui.common.not_assessed"))),
          h("span", { class: "fact" }, t("ui.field.assigned_team"), " ", h("strong", { id: "case-team" }, f.assigned_team || t("ui.common.none"))),
        ),
      ),
      h("div", { class: "page-actions" }, startScreening, addReferral, addNote),
    ),
    paused && !closed
      ? h("p", { id: "screening-paused", class: "notice info" }, t(answered === 1 ? "ui.case.screening_paused_one" : "ui.case.screening_paused", { n: answered }))
      : null,
    closed ? h("p", { id: "case-closed-note", class: "notice info" }, t("ui.case.closed_note")) : null,
  );
}

// ---- Needs review -----------------------------------------------------------------------------

function paintReview(root, state, warnings, update) {
  const parts = [];
  if (state.conflicts && state.conflicts.length) {
    const error = errorBox("needs-review-error");
    parts.push(
      h(
        "section",
        { id: "needs-review", class: "notice review", "aria-labelledby": "needs-review-title" },
        h("h2", { id: "needs-review-title" }, t("ui.review.title")),
        h("p", {}, t("ui.review.lead")),
        state.conflicts.map((conflict) =>
          h(
            "div",
            { class: "conflict", dataset: { field: conflict.field } },
            h("h3", {}, fieldLabel(conflict.field)),
            h(
              "ul",
              { class: "versions" },
              conflict.versions.map((version) =>
                h(
                  "li",
                  { class: "version", dataset: { event: version.stamp.event_id } },
                  h("span", { class: "version-value" }, valueText(conflict.field, version.value.value)),
                  h("span", { class: "muted" }, by(version.stamp)),
                  h(
                    "button",
                    {
                      type: "button",
                      class: "keep-version",
                      dataset: { event: version.stamp.event_id },
                      onclick: async (event) => {
                        try {
                          const next = await busy(event.currentTarget, () =>
                            call("resolve_conflict", { id: state.id, field: conflict.field, keep: version.stamp.event_id }),
                          );
                          await update(next);
                        } catch (failure) {
                          showError(error, failure);
                        }
                      },
                    },
                    t("ui.review.keep"),
                  ),
                ),
              ),
            ),
          ),
        ),
        error,
      ),
    );
  }
  if (warnings && warnings.length) {
    const minutes = Math.max(...warnings.map((warning) => Math.round((warning.ahead_ms || 0) / 60000)));
    parts.push(h("div", { id: "clock-warnings", class: "notice info" }, h("p", {}, t("ui.review.clock", { minutes }))));
  }
  replace(root, ...parts);
}

// ---- Summary and editing ---------------------------------------------------------------------

const EDITABLE = [
  "name",
  "aliases",
  "sex",
  "birth_date",
  "estimated_age",
  "nationalities",
  "languages",
  "phone",
  "location",
  "risk_level",
  "exploitation_types",
  "means_of_control",
  "assigned_team",
  "assigned_worker",
];

const SHOWN = EDITABLE.filter((name) => name !== "name");

function paintSummary(root, state, update) {
  const f = state.fields;
  const edit = h("button", { id: "edit-case", type: "button", onclick: () => editForm(root, state, update) }, t("ui.case.edit"));
  const closing = state.fields.status === "closed" || state.fields.status === "closed_referred";
  const statusButton = closing
    ? h("button", { id: "reopen-case", type: "button", onclick: () => statusForm(root, state, update, "reopen") }, t("ui.case.reopen"))
    : h("button", { id: "close-case", type: "button", onclick: () => statusForm(root, state, update, "close") }, t("ui.case.close"));
  // Only a case none of which has left this laptop can be taken back whole.
  const discard =
    shown && shown.canDiscard && !closing
      ? h("button", { id: "discard-case", type: "button", onclick: () => discardForm(root, state, update) }, t("ui.case.discard"))
      : null;
  replace(root, 
    h("div", { class: "section-header" }, h("h2", { id: "summary-title", tabindex: "-1" }, t("ui.case.summary")), h("div", { class: "section-actions" }, edit, statusButton, discard)),
    h(
      "dl",
      { class: "kvs summary" },
      SHOWN.map((name) =>
        h("div", { class: "kv", dataset: { field: name } }, h("dt", {}, fieldLabel(name)), h("dd", {}, valueText(name, f[name]))),
      ),
      h("div", { class: "kv" }, h("dt", {}, t("ui.case.opened")), h("dd", {}, by(state.created))),
    ),
  );
}

function checkboxGroup(legend, list, name, chosen) {
  return h(
    "fieldset",
    { class: "checks", id: `edit-${name.replace(/_/g, "-")}` },
    h("legend", {}, legend),
    choices(list).map((choice) => {
      const box = h("input", { type: "checkbox", id: uid(`edit-${name}`), name, value: choice.value, checked: (chosen || []).includes(choice.value) });
      return h("div", { class: "check" }, box, h("label", { for: box.id }, choice.label));
    }),
  );
}

/** The edit form's values as typed, kept as the draft `edit:<case id>`. */
function editForm(root, state, update, draft) {
  const f = state.fields;
  const key = `edit:${state.id}`;
  const typed = (draft && draft.values) || {};
  const start = (name) => (typeof typed[name] === "string" ? typed[name] : valueInput(name, f[name]));
  const controls = {};
  const labels = {};
  // Nothing is kept while the form holds only what the case already says.
  let untouched = null;
  const keeper = drafts.keeper(key, () => {
    const now = JSON.stringify({ values: read(), checks: checked(), reason: reason.value });
    return now === untouched ? null : JSON.parse(now);
  });
  const text = (name, attrs) => {
    controls[name] = h("input", { id: `edit-${name.replace(/_/g, "-")}`, type: "text", autocomplete: "off", value: start(name), ...attrs });
    labels[name] = fieldLabel(name);
    return field(labels[name], controls[name]);
  };
  const select = (name, list) => {
    controls[name] = h(
      "select",
      { id: `edit-${name.replace(/_/g, "-")}` },
      h("option", { value: "" }, t("ui.common.not_given")),
      choices(list).map((choice) => h("option", { value: choice.value }, choice.label)),
    );
    controls[name].value = start(name);
    labels[name] = fieldLabel(name);
    return field(labels[name], controls[name]);
  };
  const pick = (name, list) => {
    const codes = start(name)
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean);
    controls[name] = picker(`edit-${name.replace(/_/g, "-")}`, choices(list), codes, () => keeper.keep());
    labels[name] = fieldLabel(name);
    return field(labels[name], controls[name], t(name === "nationalities" ? "ui.picker.country_hint" : "ui.picker.language_hint"));
  };
  const date = () => {
    controls.birth_date = dateInput("edit-birth-date", "");
    controls.birth_date.setText(typeof typed.birth_date === "string" ? typed.birth_date : writeDay(f.birth_date));
    labels.birth_date = fieldLabel("birth_date");
    return field(labels.birth_date, controls.birth_date, t("ui.date.hint"));
  };
  const chosen = (name) => ((draft && draft.checks && Array.isArray(draft.checks[name]) ? draft.checks[name] : f[name]) || []);
  const exploitation = checkboxGroup(fieldLabel("exploitation_types"), "exploitation_type", "exploitation_types", chosen("exploitation_types"));
  const control = checkboxGroup(fieldLabel("means_of_control"), "means_of_control", "means_of_control", chosen("means_of_control"));
  const reason = h("input", { id: "edit-reason", type: "text", autocomplete: "off", value: (draft && draft.reason) || "" });
  const error = errorBox("edit-error");
  const save = h("button", { id: "edit-save", type: "submit", class: "primary" }, t("ui.common.save"));
  const cancel = h(
    "button",
    {
      id: "edit-cancel",
      type: "button",
      onclick: () => {
        keeper.drop();
        paintSummary(root, state, update);
      },
    },
    t("ui.common.cancel"),
  );
  const form = h(
    "form",
    { class: "edit-case", novalidate: true },
    h("h2", { id: "summary-title", tabindex: "-1" }, t("ui.case.edit_title")),
    draft ? h("p", { id: "edit-restored", class: "notice info" }, t("ui.case.edit_restored")) : null,
    text("name"),
    text("aliases"),
    h("div", { class: "row" }, select("sex", "sex"), date(), text("estimated_age", { inputmode: "numeric" })),
    h("div", { class: "row" }, pick("nationalities", "country"), pick("languages", "language")),
    h("div", { class: "row" }, text("phone"), text("location")),
    select("risk_level", "risk_level"),
    exploitation,
    control,
    h("div", { class: "row" }, text("assigned_team"), text("assigned_worker")),
    field(t("ui.case.edit_reason"), reason, t("ui.case.edit_reason_hint")),
    error,
    h("div", { class: "actions sticky-actions" }, save, cancel),
  );
  /** Each field as typed: text, or a picker's codes. */
  function read() {
    const values = {};
    for (const [name, input] of Object.entries(controls)) {
      if (name === "birth_date") values[name] = input.text();
      else values[name] = typeof input.value === "function" ? input.value() : input.value;
    }
    return values;
  }
  function checked() {
    const out = {};
    for (const [name, group] of [["exploitation_types", exploitation], ["means_of_control", control]]) {
      out[name] = [...group.querySelectorAll("input:checked")].map((box) => box.value);
    }
    return out;
  }
  form.addEventListener("input", () => keeper.keep());
  form.addEventListener("change", () => keeper.keep());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {};
    for (const [name, input] of Object.entries(controls)) {
      const before = name === "birth_date" ? f.birth_date || "" : valueInput(name, f[name]);
      const now = (typeof input.value === "function" ? input.value() : input.value).trim();
      if (now !== before) values[name] = now;
    }
    const boxes = checked();
    for (const name of ["exploitation_types", "means_of_control"]) {
      if (boxes[name].join(",") !== (f[name] || []).join(",")) values[name] = boxes[name].join(", ");
    }
    if (Object.keys(values).length === 0) {
      keeper.drop();
      paintSummary(root, state, update);
      return;
    }
    try {
      const args = { id: state.id, values };
      if (reason.value.trim()) args.reason = reason.value.trim();
      const next = await busy(save, () => call("update_case", args));
      await keeper.drop();
      await update(next);
      document.getElementById("summary-title").focus();
    } catch (failure) {
      showFaults(error, controls, failure, labels);
    }
  });
  replace(root, form);
  if (!draft) untouched = JSON.stringify({ values: read(), checks: checked(), reason: reason.value });
  controls.name.focus();
}

/** Asks before deleting a case created by mistake; then the list, with what was done. */
function discardForm(root, state, update) {
  const error = errorBox("discard-error");
  const yes = h("button", { id: "discard-confirm", type: "submit", class: "primary" }, t("ui.case.discard_confirm"));
  const form = h(
    "form",
    { id: "discard-form", class: "status-form", novalidate: true },
    h("h2", { id: "summary-title", tabindex: "-1" }, t("ui.case.discard_title", { code: state.code })),
    h("p", {}, t("ui.case.discard_lead")),
    error,
    h(
      "div",
      { class: "actions" },
      yes,
      h(
        "button",
        {
          id: "discard-cancel",
          type: "button",
          onclick: () => {
            paintSummary(root, state, update);
            // Back to the button that opened the form, or (once refused) to the heading.
            (document.getElementById("discard-case") || document.getElementById("summary-title")).focus();
          },
        },
        t("ui.common.cancel"),
      ),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await busy(yes, () => call("discard_case", { id: state.id }));
      // Nothing typed on this case is written again: its drafts went with it.
      await drafts.dropAll(`:${state.id}`);
      shown = null;
      await app.navigate({ screen: "cases", notice: "discarded", code: state.code });
    } catch (failure) {
      showError(error, failure);
      if (failure && failure.kind === "not_discardable") {
        // It can no longer succeed: the way on is Cancel, then closing it as created in error.
        if (shown) shown.canDiscard = false;
        yes.hidden = true;
        const cancel = document.getElementById("discard-cancel");
        cancel.scrollIntoView({ block: "center" });
        cancel.focus();
      }
    }
  });
  replace(root, form);
  yes.scrollIntoView({ block: "nearest" });
  document.getElementById("discard-cancel").focus();
}

function statusForm(root, state, update, action, draft) {
  const reason = h("textarea", { id: "status-reason", rows: "2" });
  reason.value = (draft && draft.reason) || "";
  const referred = h("input", { id: "close-referred", type: "checkbox", checked: Boolean(draft && draft.referred) });
  // A case created by mistake is closed with a coded reason, not free text.
  const inError = h("input", { id: "close-in-error", type: "checkbox", checked: Boolean(draft && draft.inError) });
  const keeper = drafts.keeper(`status:${state.id}`, () =>
    reason.value.trim() || referred.checked || inError.checked
      ? { action, reason: reason.value, referred: referred.checked, inError: inError.checked }
      : null,
  );
  const error = errorBox("status-error");
  const save = h("button", { id: "status-save", type: "submit", class: "primary" }, action === "close" ? t("ui.case.close") : t("ui.case.reopen"));
  const form = h(
    "form",
    { class: "status-form", novalidate: true },
    h("h2", { id: "summary-title", tabindex: "-1" }, action === "close" ? t("ui.case.close_title") : t("ui.case.reopen_title")),
    field(t("ui.case.status_reason"), reason),
    action === "close" ? h("div", { class: "check" }, referred, h("label", { for: "close-referred" }, t("ui.case.close_referred"))) : null,
    action === "close" ? h("div", { class: "check" }, inError, h("label", { for: "close-in-error" }, t("ui.case.close_in_error"))) : null,
    error,
    h(
      "div",
      { class: "actions" },
      save,
      h(
        "button",
        {
          type: "button",
          onclick: () => {
            keeper.drop();
            paintSummary(root, state, update);
          },
        },
        t("ui.common.cancel"),
      ),
    ),
  );
  form.addEventListener("input", () => keeper.keep());
  form.addEventListener("change", () => keeper.keep());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const closingInError = action === "close" && inError.checked;
    if (!reason.value.trim() && !closingInError) {
      showError(error, t("ui.case.status_reason_missing"));
      reason.focus();
      return;
    }
    try {
      const next = await busy(save, () =>
        action === "close"
          ? call("close_case", { id: state.id, reason: reason.value.trim(), referred: referred.checked, inError: closingInError })
          : call("reopen_case", { id: state.id, reason: reason.value.trim() }),
      );
      await keeper.drop();
      await update(next);
    } catch (failure) {
      showError(error, failure);
    }
  });
  replace(root, form);
  reason.focus();
  // The whole short form in view, its button above the sync bar on a small screen.
  save.scrollIntoView({ block: "nearest" });
}

// ---- A screening's result, offered to the case ------------------------------------------------

/** Codes as their labels, or "none coded". */
function labels(list, values) {
  return values.length ? values.map((value) => codeLabel(list, value)).join(", ") : t("ui.suggestion.none");
}

/**
 * After a screening: what its result would change on the case, field by field, with one button
 * that records it as an ordinary edit (core merges the lists and never lowers a risk level) and
 * one that sets it aside on this laptop. Shown until one of them is used.
 */
function paintSuggestion(root, state, update) {
  const suggestion = shown && shown.suggestion;
  if (!suggestion || shown.dismissed === suggestion.screening_id) {
    replace(root);
    return;
  }
  const risk = suggestion.risk_level;
  const changes = [];
  if (risk.new) {
    changes.push(
      h("li", { dataset: { field: "risk_level" } }, t("ui.suggestion.risk_set", { from: risk.current ? codeLabel("risk_level", risk.current) : t("ui.common.not_assessed"), to: codeLabel("risk_level", risk.new) })),
    );
  } else if (risk.current) {
    changes.push(
      h("li", { dataset: { field: "risk_level", kept: "true" } }, t("ui.suggestion.risk_kept", { current: codeLabel("risk_level", risk.current), suggested: codeLabel("risk_level", risk.suggested) })),
    );
  }
  for (const [name, list] of [["exploitation_types", "exploitation_type"], ["means_of_control", "means_of_control"]]) {
    const { added, kept } = suggestion[name];
    if (!added.length) continue;
    const words = { field: fieldLabel(name), added: labels(list, added), kept: labels(list, kept) };
    changes.push(h("li", { dataset: { field: name } }, t(kept.length ? "ui.suggestion.adds_keeps" : "ui.suggestion.adds", words)));
  }
  const error = errorBox("suggestion-error");
  const take = h(
    "button",
    {
      id: "suggestion-take",
      type: "button",
      class: "primary",
      onclick: async (event) => {
        try {
          const next = await busy(event.currentTarget, () => call("take_screening_result", { id: state.id, screening: suggestion.screening_id }));
          shown.suggestion = null;
          await update(next);
          const done = h("p", { id: "suggestion-taken", class: "notice success", tabindex: "-1" }, t("ui.suggestion.taken"));
          replace(root, done);
          done.focus();
        } catch (failure) {
          showError(error, failure);
        }
      },
    },
    t("ui.suggestion.take"),
  );
  const dismiss = h(
    "button",
    {
      id: "suggestion-dismiss",
      type: "button",
      onclick: async () => {
        shown.dismissed = suggestion.screening_id;
        replace(root);
        document.getElementById("case-title").focus();
        await call("save_draft", { key: `${SUGGESTION_DISMISSED}:${state.id}`, value: suggestion.screening_id }).catch(() => {});
      },
    },
    t("ui.suggestion.dismiss"),
  );
  replace(
    root,
    h(
      "section",
      { id: "screening-suggestion", class: "notice info suggestion", "aria-labelledby": "suggestion-title", dataset: { screening: suggestion.screening_id, level: suggestion.level } },
      h("h2", { id: "suggestion-title" }, t("ui.suggestion.title")),
      h("p", { id: "suggestion-summary" }, t("ui.suggestion.summary", { risk: codeLabel("risk_level", risk.suggested), exploitation: labels("exploitation_type", suggestion.exploitation_types.suggested), control: labels("means_of_control", suggestion.means_of_control.suggested) })),
      h("p", {}, t("ui.suggestion.lead")),
      h("ul", { id: "suggestion-changes", class: "changes" }, changes),
      error,
      h("div", { class: "actions" }, take, dismiss),
    ),
  );
}

// ---- Screenings and their answers ------------------------------------------------------------

/** Form versions read so far, by `id@version` (a screening is read with the version it was filled with). */
const formVersions = new Map();

function formVersion(id, version) {
  const key = `${id}@${version}`;
  if (!formVersions.has(key)) formVersions.set(key, call("get_form", { id, version }).catch((error) => { formVersions.delete(key); throw error; }));
  return formVersions.get(key);
}

function formTitle(id) {
  const form = (forms || []).find((entry) => entry.id === id);
  return form ? tx(form.title) : id;
}

const YES_NO_KEYS = { yes: "answer.yes", no: "answer.no", unsure: "answer.unsure" };

/** An answer in the interface's words: "Not sure" and "Prefers not to answer" as such. */
function answerText(question, answer) {
  if (answer === "declined") return t("answer.declined");
  const option = (value) => {
    const found = (question.options || []).find((o) => o.value === value);
    return found ? tx(found.label) : String(value);
  };
  switch (question.type) {
    case "yes_no_unsure_declined":
      return YES_NO_KEYS[answer] ? t(YES_NO_KEYS[answer]) : String(answer);
    case "single_choice":
      return option(answer);
    case "multiple_choice":
      return (Array.isArray(answer) ? answer : [answer]).map(option).join(", ");
    case "country":
      return (Array.isArray(answer) ? answer : [answer]).map((code) => country(code)).join(", ");
    case "date":
      return day(String(answer));
    default:
      return String(answer);
  }
}

/** The questions answered, in the form's order, each with its answer. */
function answerList(form, answers) {
  const rows = form.sections
    .flatMap((section) => section.questions)
    .filter((question) => answers[question.id] !== undefined)
    .map((question) => {
      const answer = answers[question.id];
      // Only coded answers go into the page's data; a typed answer is text on screen only.
      const coded = question.type === "yes_no_unsure_declined" || question.type === "single_choice" || answer === "declined";
      return h(
        "div",
        { class: "kv screening-answer", dataset: { question: question.id, answer: coded ? String(answer) : undefined } },
        h("dt", {}, tx(question.text)),
        h("dd", {}, answerText(question, answer)),
      );
    });
  return rows.length ? h("dl", { class: "kvs answers" }, rows) : h("p", { class: "muted" }, t("ui.screenings.no_answers"));
}

/** One screening, its questions and answers read (with its own form version) when it is opened. */
function screeningItem({ id, formId, version, answers, heading, lead, state, level }) {
  const body = h("div", { class: "screening-body" });
  const details = h("details", { class: "screening-details" }, h("summary", {}, heading), lead, body);
  let loaded = false;
  details.addEventListener("toggle", async () => {
    if (!details.open || loaded) return;
    loaded = true;
    try {
      const form = await formVersion(formId, version);
      replace(body, h("h3", {}, t("ui.screenings.answers")), answerList(form, answers || {}));
    } catch {
      loaded = false;
      replace(body, h("p", { class: "notice warning" }, t("ui.screenings.unknown_form")));
    }
  });
  return h("li", { class: "screening", dataset: { id, state, level } }, details);
}

function paintScreenings(root, state, paused) {
  const items = [...(state.screenings || [])]
    .sort((a, b) => order(b.recorded) - order(a.recorded))
    .map((screening) => {
      const level = (screening.result || {}).level;
      return screeningItem({
        id: screening.id,
        formId: screening.form_id,
        version: screening.form_version,
        answers: screening.answers,
        state: "recorded",
        level,
        heading: [
          `${formTitle(screening.form_id)} · ${dateTime(screening.recorded.hlc.wall_ms)} · `,
          level ? h("span", { class: "level-badge", dataset: { level } }, t("level." + level)) : null,
        ],
        lead: h("p", { class: "muted" }, `${t("ui.screenings.asked_in", { language: languageName(screening.language) })} ${by(screening.recorded)}`),
      });
    });
  const closed = ["closed", "closed_referred"].includes(state.fields.status);
  if (paused && typeof paused === "object" && paused.form && !closed) {
    const answers = paused.answers || {};
    items.unshift(
      screeningItem({
        id: "paused",
        formId: paused.form,
        version: paused.version,
        answers,
        state: "paused",
        heading: [`${formTitle(paused.form)} · `, h("span", { class: "badge paused" }, t("ui.screenings.paused"))],
        lead: h("p", {}, t("ui.screenings.paused_lead", { n: Object.keys(answers).length })),
      }),
    );
  }
  replace(
    root,
    h("h2", { id: "screenings-title" }, t("ui.screenings.title")),
    items.length ? h("ul", { class: "screenings" }, items) : h("p", { class: "muted" }, t("ui.screenings.none")),
  );
}

// ---- Referrals and consents ------------------------------------------------------------------

/**
 * What a referral's status really means on this laptop: a referral only recorded here, one the
 * server acknowledged, one a laptop of the receiving team recorded having (a service that is a
 * team in Harbour), or one recorded on another laptop.
 */
function deliveryText(referral) {
  const delivery = (shown && shown.delivery && shown.delivery[referral.id]) || "waiting";
  const team = shown && shown.teams ? shown.teams[referral.id] : null;
  if (referral.status === "sent") {
    if (delivery === "delivered") return t("ui.referrals.delivery_delivered", { team: team || serviceName(referral.service) });
    if (delivery === "sent_to_server") {
      return team ? t("ui.referrals.delivery_sent_to_team", { team }) : t("ui.referrals.delivery_sent_to_server");
    }
    if (delivery === "received") return t("ui.referrals.delivery_received");
    return app.status && app.status.enrolled ? t("ui.referrals.delivery_waiting") : t("ui.referrals.delivery_standalone");
  }
  if (delivery === "waiting" && app.status && app.status.enrolled) return t("ui.referrals.delivery_answer_waiting");
  return "";
}

/** Whether a laptop of the receiving team has the referral, and nothing changed it since. */
function deliveredNow(referral) {
  return Boolean(shown && shown.delivery && shown.delivery[referral.id] === "delivered");
}

const STATUS_CONFIRM_KEYS = {
  accepted: "ui.referrals.confirm_accepted",
  declined: "ui.referrals.confirm_declined",
  completed: "ui.referrals.confirm_completed",
};

function paintReferrals(root, state, update) {
  const error = errorBox("referrals-error");
  const items = state.referrals.map((referral) => {
    const slot = h("div", { class: "actions inline referral-moves" });
    // A status change is asked once more before it is recorded: one stray click is not final.
    const confirm = (status) => {
      const yes = h(
        "button",
        {
          type: "button",
          class: "primary referral-status-confirm",
          dataset: { status },
          onclick: async (event) => {
            try {
              const next = await busy(event.currentTarget, () =>
                call("set_referral_status", { id: state.id, referral: referral.id, status }),
              );
              await update(next);
            } catch (failure) {
              showError(error, failure);
            }
          },
        },
        t("ui.referrals.confirm_yes"),
      );
      const no = h("button", { type: "button", class: "referral-status-cancel", onclick: () => { showMoves(); slot.querySelector(".referral-status-button").focus(); } }, t("ui.common.cancel"));
      replace(slot, h("span", { class: "referral-confirm-text", role: "status" }, t(STATUS_CONFIRM_KEYS[status], { service: serviceName(referral.service) })), yes, no);
      yes.focus();
    };
    const showMoves = () => {
      const moves = (NEXT_STATUS[referral.status] || []).map((status) =>
        h("button", { type: "button", class: "referral-status-button", dataset: { status }, onclick: () => confirm(status) }, t(STATUS_ACTION_KEYS[status])),
      );
      if (moves.length) replace(slot, h("span", { class: "muted" }, t("ui.referrals.update")), moves);
      else slot.replaceChildren();
    };
    showMoves();
    const delivery = deliveryText(referral);
    return h(
      "li",
      { class: "referral", dataset: { status: referral.status, id: referral.id, urgency: referral.urgency } },
      h(
        "div",
        { class: "referral-head" },
        h("strong", {}, serviceName(referral.service)),
        h("span", { class: "badge status", dataset: { status: referral.status } }, referral.status === "sent" ? t(deliveredNow(referral) ? "ui.referrals.status_delivered" : "ui.referrals.status_recorded") : codeLabel("referral_status", referral.status)),
        referral.urgency !== "routine" ? h("span", { class: "badge urgency", dataset: { urgency: referral.urgency } }, codeLabel("urgency", referral.urgency)) : null,
      ),
      delivery ? h("p", { class: "referral-delivery", dataset: { delivery: (shown && shown.delivery && shown.delivery[referral.id]) || "waiting" } }, delivery) : null,
      h("p", { class: "muted" }, `${codeLabel("service_type", referral.service_type)} · ${codeLabel("referral_reason", referral.reason)} · ${by(referral.recorded)}`),
      referral.details ? h("p", { class: "prewrap" }, referral.details) : null,
      sharedBy(state, referral),
      referral.status_history.length
        ? h(
            "ul",
            { class: "status-history" },
            referral.status_history.map((change) =>
              h("li", {}, `${codeLabel("referral_status", change.status)} — ${by(change.recorded)}`, change.note ? ` — ${change.note}` : ""),
            ),
          )
        : null,
      slot,
      letterControl(state.id, referral),
    );
  });
  replace(root, 
    h("h2", { id: "referrals-title", tabindex: "-1" }, t("ui.referrals.title")),
    items.length ? h("ul", { class: "referrals" }, items) : h("p", { class: "muted" }, t("ui.referrals.none")),
    error,
  );
}

/** What the referral's consent lets it share. */
function sharedBy(state, referral) {
  const consent = (state.consents || []).find((entry) => entry.id === referral.consent_id);
  if (!consent) return null;
  const scope = consent.scope.map((item) => codeLabel("consent_scope", item)).join(", ");
  return h("p", { class: "muted" }, t("ui.referrals.shares", { scope }));
}

function paintConsents(root, state) {
  replace(root, 
    h("h2", { id: "consents-title" }, t("ui.consents.title")),
    state.consents.length
      ? h(
          "ul",
          { class: "consents" },
          state.consents.map((consent) =>
            h(
              "li",
              { class: "consent-item" },
              h("p", {}, t("ui.consents.item", { scope: consent.scope.map((scope) => codeLabel("consent_scope", scope)).join(", "), with: consent.shared_with })),
              h("p", { class: "muted" }, `${day(consent.given_on)} · ${codeLabel("consent_method", consent.method)} · ${by(consent.recorded)}`),
              consent.note ? h("p", { class: "prewrap" }, consent.note) : null,
            ),
          ),
        )
      : h("p", { class: "muted" }, t("ui.consents.none")),
  );
}

// ---- Notes -----------------------------------------------------------------------------------

function noteForm(caseId) {
  const key = `note:${caseId}`;
  const text = h("textarea", { id: "note-text", rows: "4" });
  const error = errorBox("note-error");
  const save = h("button", { id: "note-save", type: "submit", class: "primary" }, t("ui.notes.save"));
  const keeper = drafts.keeper(key, () => (text.value.trim() ? text.value : null), 500);
  text.addEventListener("input", () => keeper.keep());
  const form = h(
    "form",
    { class: "panel note-form", novalidate: true },
    h("h2", {}, h("label", { for: "note-text" }, t("ui.notes.title"))),
    h("p", { class: "hint", id: "note-hint" }, t("ui.notes.hint")),
    text,
    error,
    h("div", { class: "actions" }, save),
  );
  text.setAttribute("aria-describedby", "note-hint");
  const handle = {
    element: form,
    onSaved: null,
    async load() {
      const draft = await drafts.load(key);
      if (typeof draft === "string" && !text.value) text.value = draft;
    },
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const note = text.value.trim();
    if (!note) {
      showError(error, t("ui.notes.empty"));
      text.focus();
      return;
    }
    showError(error, null);
    try {
      const result = await busy(save, () => call("add_note", { id: caseId, text: note }));
      text.value = "";
      await keeper.drop();
      if (handle.onSaved) await handle.onSaved(result.case);
      text.focus();
    } catch (failure) {
      showError(error, failure);
    }
  });
  return handle;
}

// ---- Timeline --------------------------------------------------------------------------------

function timelineEntries(state) {
  const entries = [];
  for (const entry of state.history || []) {
    if (entry.kind === "case.created") {
      entries.push({ kind: "created", stamp: entry.stamp, body: [h("p", {}, t("ui.timeline.created"))] });
    } else if (entry.kind === "case.updated") {
      const sets = entry.set || [];
      const isStatus = sets.some((set) => set.field === "status");
      entries.push({
        kind: isStatus ? "status" : "edit",
        stamp: entry.stamp,
        body: [
          h(
            "ul",
            { class: "changes" },
            sets.map((set) => h("li", {}, t("ui.timeline.changed", { field: fieldLabel(set.field), value: valueText(set.field, set.value) }))),
          ),
          entry.reason && entry.reason.startsWith(FROM_SCREENING)
            ? h("p", { class: "from-screening" }, t("ui.timeline.from_screening"))
            : entry.reason
              ? h("p", { class: "prewrap" }, t("ui.timeline.reason", { reason: entry.reason === "created_in_error" ? t("ui.case.created_in_error") : entry.reason }))
              : null,
          entry.concurrent ? h("p", { class: "muted" }, t("ui.timeline.concurrent")) : null,
        ],
      });
    }
  }
  for (const note of state.notes || []) {
    entries.push({ kind: "note", stamp: note.recorded, body: [h("p", { class: "prewrap" }, note.text)] });
  }
  for (const consent of state.consents || []) {
    entries.push({
      kind: "consent",
      stamp: consent.recorded,
      body: [h("p", {}, t("ui.timeline.consent", { scope: consent.scope.map((scope) => codeLabel("consent_scope", scope)).join(", "), with: consent.shared_with }))],
    });
  }
  for (const referral of state.referrals || []) {
    const name = serviceName(referral.service);
    entries.push({ kind: "referral", stamp: referral.recorded, body: [h("p", {}, t("ui.timeline.referral", { service: name }))] });
    if (referral.delivered) {
      const team = (shown && shown.teams && shown.teams[referral.id]) || name;
      entries.push({ kind: "referral_delivered", stamp: referral.delivered.recorded, body: [h("p", {}, t("ui.timeline.referral_delivered", { service: name, team }))] });
    }
    for (const change of referral.status_history || []) {
      entries.push({
        kind: "referral_status",
        stamp: change.recorded,
        body: [
          h("p", {}, t("ui.timeline.referral_status", { service: name, status: codeLabel("referral_status", change.status) })),
          change.note ? h("p", { class: "prewrap" }, change.note) : null,
        ],
      });
    }
  }
  for (const screening of state.screenings || []) {
    const result = screening.result || {};
    const form = (forms || []).find((entry) => entry.id === screening.form_id);
    const title = form ? tx(form.title) : screening.form_id;
    entries.push({
      kind: "screening",
      stamp: screening.recorded,
      level: result.level,
      body: [
        h("p", {}, t("ui.timeline.screening", { form: title })),
        result.level
          ? h("p", {}, h("span", { class: "level-badge", dataset: { level: result.level } }, t("level." + result.level)))
          : null,
        (result.reasons || []).length
          ? h(
              "details",
              {},
              h("summary", {}, t("screening.reasons")),
              h("ul", {}, result.reasons.map((reason) => h("li", {}, t(reason.key)))),
            )
          : null,
      ],
    });
  }
  // The task force's facts (case-desk.js): what was recorded, in words.
  for (const event of state.process || []) {
    entries.push({ kind: "process", stamp: event.recorded, body: [h("p", {}, t("ui.timeline.process", { stage: codeLabel("process_stage", event.stage), country: country(event.country) }))] });
  }
  for (const step of state.justice || []) {
    entries.push({ kind: "justice", stamp: step.recorded, body: [h("p", {}, t("ui.timeline.justice", { stage: codeLabel("justice_stage", step.stage) }))] });
  }
  for (const perpetrator of state.perpetrators || []) {
    entries.push({ kind: "perpetrator", stamp: perpetrator.recorded, body: [h("p", {}, t("ui.timeline.perpetrator", { roles: perpetrator.roles.map((role) => codeLabel("perpetrator_role", role)).join(", ") }))] });
  }
  for (const service of state.services || []) {
    entries.push({ kind: "service", stamp: service.recorded, body: [h("p", {}, t("ui.timeline.service", { service: codeLabel("service_type", service.service_type) }))] });
  }
  entries.sort((a, b) => order(b.stamp) - order(a.stamp));
  return entries;
}

const KIND_KEYS = {
  created: "ui.timeline.kind_created",
  edit: "ui.timeline.kind_edit",
  status: "ui.timeline.kind_status",
  note: "ui.timeline.kind_note",
  consent: "ui.timeline.kind_consent",
  referral: "ui.timeline.kind_referral",
  referral_status: "ui.timeline.kind_referral_status",
  referral_delivered: "ui.timeline.kind_referral_delivered",
  screening: "ui.timeline.kind_screening",
  process: "ui.timeline.kind_process",
  justice: "ui.timeline.kind_justice",
  perpetrator: "ui.timeline.kind_perpetrator",
  service: "ui.timeline.kind_service",
};

function paintTimeline(root, state) {
  const entries = timelineEntries(state);
  replace(root, 
    h("h2", { id: "timeline-title" }, t("ui.timeline.title")),
    h(
      "ol",
      { id: "case-timeline", class: "timeline" },
      entries.map((entry) =>
        h(
          "li",
          { class: "timeline-item", dataset: { kind: entry.kind, level: entry.level } },
          h(
            "p",
            { class: "timeline-meta" },
            h("span", { class: "timeline-kind" }, t(KIND_KEYS[entry.kind])),
            " · ",
            h("time", { datetime: new Date(entry.stamp.hlc.wall_ms).toISOString() }, dateTime(entry.stamp.hlc.wall_ms)),
            " · ",
            entry.stamp.author,
          ),
          entry.body,
        ),
      ),
    ),
  );
}
