// The screening wizard, drawn from the form definition: the opening script, then one question at
// a time ("Prefers not to answer" always offered), then the result with its reasons, what to do
// now and the services to refer to. Every answer is saved at once as an encrypted draft, so a
// screening that is interrupted resumes where it stopped.

import { call } from "../api.js";
import { app } from "../app.js";
import { h, replace, uid } from "../dom.js";
import { LANGUAGES, language, t, tIn, tx } from "../i18n.js";
import { choices, codeLabel, loadLists } from "../codes.js";
import * as drafts from "../drafts.js";
import { serviceText } from "../directory.js";
import { errorBox, busy, field, parseDay, showError, writeDay } from "../ui.js";

const DECLINED = "declined";
const YES_NO = ["yes", "no", "unsure"];
const ANSWER_KEYS = { yes: "answer.yes", no: "answer.no", unsure: "answer.unsure", declined: "answer.declined" };
/** The keys that give the first, second… answer of a choice question (at most nine answers). */
const ANSWER_KEY_LIST = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];
const LANGUAGE_KEYS = { en: "ui.language.en", es: "ui.language.es", fr: "ui.language.fr" };

/** Screenings in progress, by case; dropped when Harbour locks (the drafts keep them). */
let sessions = new Map();
const formCache = new Map();
let formList = null;

export function forget() {
  sessions = new Map();
}

function draftKey(caseId) {
  return `screening:${caseId}`;
}

/** The form this laptop used last, offered first next time (a nurse always uses the same). */
const LAST_FORM = "screening-form";

async function getForm(id) {
  if (!formCache.has(id)) formCache.set(id, await call("get_form", { id }));
  return formCache.get(id);
}

// ---- The form's logic, as in crates/core/src/forms/answers.rs ---------------------------------

function questions(form) {
  return form.sections.flatMap((section) => section.questions.map((question) => ({ ...question, section })));
}

function holds(condition, answers) {
  if (condition.all) return condition.all.every((c) => holds(c, answers));
  if (condition.any) return condition.any.some((c) => holds(c, answers));
  const answer = answers[condition.question];
  if (condition.is !== undefined) {
    const values = Array.isArray(condition.is) ? condition.is : [condition.is];
    if (typeof answer === "string") return values.includes(answer);
    if (Array.isArray(answer)) return answer.some((item) => values.includes(item));
    return false;
  }
  if (typeof answer !== "number") return false;
  if (condition.at_least !== undefined) return answer >= condition.at_least;
  if (condition.less_than !== undefined) return answer < condition.less_than;
  return false;
}

/** The answers that count: those of questions shown, in form order. */
function shownAnswers(form, answers) {
  const shown = {};
  for (const question of questions(form)) {
    const visible = !question.show_if || holds(question.show_if, shown);
    if (visible && answers[question.id] !== undefined) shown[question.id] = answers[question.id];
  }
  return shown;
}

function visibleQuestions(form, answers) {
  const shown = shownAnswers(form, answers);
  return questions(form).filter((question) => !question.show_if || holds(question.show_if, shown));
}

/** null when the answer fits the question, else the key of what to say. */
function problem(question, answer) {
  if (answer === undefined || answer === "" || (Array.isArray(answer) && answer.length === 0)) {
    return question.required ? "error.answer_missing" : null;
  }
  if (answer === DECLINED) return null;
  switch (question.type) {
    case "number": {
      if (typeof answer !== "number" || !Number.isFinite(answer)) return "ui.wizard.number_invalid";
      if (question.integer && !Number.isInteger(answer)) return "ui.wizard.number_whole";
      if (question.min !== undefined && answer < question.min) return "ui.wizard.number_range";
      if (question.max !== undefined && answer > question.max) return "ui.wizard.number_range";
      return null;
    }
    case "date":
      return /^\d{4}-\d{2}-\d{2}$/.test(answer) && !Number.isNaN(Date.parse(answer)) ? null : "ui.wizard.date_invalid";
    default:
      return null;
  }
}

// ---- The screen ------------------------------------------------------------------------------

/** The new-case form's draft: a screening for someone new starts from it (see `pending`). */
const NEW_CASE_DRAFT = "new-case";

export async function render(root, route, current) {
  // `pending`: a new person whose case is recorded only when they agree after the opening
  // script; until then the name lives in the new-case draft only.
  const pending = Boolean(route.pending);
  const caseId = route.id;
  const [caseResult, list, draft, lastForm] = await Promise.all([
    pending ? drafts.load(NEW_CASE_DRAFT) : call("get_case", { id: caseId }),
    formList ? Promise.resolve(formList) : call("list_forms"),
    pending ? null : drafts.load(draftKey(caseId)),
    drafts.load(LAST_FORM),
    loadLists(),
  ]);
  if (!current()) return;
  formList = list;
  let person;
  if (pending) {
    const fields = caseResult && caseResult.fields;
    if (!fields || !fields.name) {
      app.navigate({ screen: "new-case", then: "screening" });
      return;
    }
    person = { id: null, code: "", fields: { name: fields.name }, pendingFields: fields };
  } else {
    person = caseResult.case;
  }
  let session = person.id ? sessions.get(person.id) : null;
  if (!session && draft && typeof draft === "object" && draft.form) {
    session = { ...draft, answers: draft.answers || {}, resumed: true };
  }
  if (!session) {
    const known = list.some((entry) => entry.id === lastForm);
    session = { form: known ? lastForm : list[0] && list[0].id, version: null, answers: {}, current: null, person_lang: language() };
  }
  if (person.id) sessions.set(person.id, session);
  const form = await getForm(session.form);
  if (!current()) return;
  if (session.version !== null && session.version !== form.version) {
    // A draft from an older version of the form: start again on the one in use.
    session.answers = {};
    session.current = null;
  }
  session.version = form.version;

  const wizard = h("div", { id: "wizard", class: "wizard" });
  root.append(wizard);
  const screen = new Wizard(wizard, person, form, session, list, current);
  screen.show();
  return () => (screen.keeper ? screen.keeper.stop() : undefined);
}

class Wizard {
  constructor(root, person, form, session, forms, current) {
    this.root = root;
    this.person = person;
    this.form = form;
    this.session = session;
    this.forms = forms;
    this.current = current;
    this.keeper = person.id ? this.makeKeeper() : null;
  }

  makeKeeper() {
    return drafts.keeper(
      draftKey(this.person.id),
      () => {
        const { form, version, answers, current, person_lang } = this.session;
        return { form, version, answers, current, person_lang };
      },
      300,
    );
  }

  save() {
    if (this.keeper) this.keeper.keep();
  }

  show() {
    if (this.session.current && this.visible().some((q) => q.id === this.session.current)) this.question(this.session.current);
    else this.intro();
  }

  visible() {
    return visibleQuestions(this.form, this.session.answers);
  }

  personLang() {
    return LANGUAGES.includes(this.session.person_lang) ? this.session.person_lang : language();
  }

  /** A text in the worker's language and, below it, in the person's when they differ. */
  both(text, className) {
    const own = h("p", { class: className }, tx(text));
    const theirs = this.personLang();
    if (theirs === language()) return own;
    return [own, h("p", { class: ["theirs", className], lang: theirs }, tx(text, theirs))];
  }

  forPerson() {
    return this.person.id
      ? t("ui.wizard.for_person", { name: this.person.fields.name, code: this.person.code })
      : t("ui.wizard.for_new_person", { name: this.person.fields.name });
  }

  header(extra) {
    return h(
      "div",
      { class: "wizard-header" },
      h("p", { class: "eyebrow" }, this.forPerson()),
      h("h1", {}, tx(this.form.title)),
      extra || null,
    );
  }

  // ---- Opening script ----------------------------------------------------------------------

  /** The two choices of the opening page, made once: redrawing the page for another form or
   * language moves them rather than replacing the element being used. */
  introControls() {
    if (this.controls) return this.controls;
    const formSelect = h(
      "select",
      { id: "wizard-form" },
      this.forms.map((entry) => h("option", { value: entry.id }, tx(entry.title))),
    );
    formSelect.value = this.form.id;
    formSelect.addEventListener("change", async () => {
      const next = await getForm(formSelect.value);
      if (!this.current() || !formSelect.isConnected) return;
      this.form = next;
      this.session.form = next.id;
      this.session.version = next.version;
      this.session.answers = {};
      this.save();
      this.intro();
      formSelect.focus();
    });
    const personLang = h(
      "select",
      { id: "wizard-person-language" },
      LANGUAGES.map((code) => h("option", { value: code }, t(LANGUAGE_KEYS[code]))),
    );
    personLang.value = this.personLang();
    personLang.addEventListener("change", () => {
      this.session.person_lang = personLang.value;
      this.save();
      this.intro();
      personLang.focus();
    });
    this.controls = { formSelect, personLang };
    return this.controls;
  }

  intro() {
    this.session.current = null;
    const { formSelect, personLang } = this.introControls();
    const start = h(
      "button",
      {
        id: "wizard-start",
        type: "button",
        class: "primary",
        onclick: async (event) => {
          call("save_draft", { key: LAST_FORM, value: this.form.id }).catch(() => {});
          if (!this.person.id && !(await this.createCase(event.currentTarget, error))) return;
          this.question(this.visible()[0].id);
        },
      },
      t("ui.wizard.agree_start"),
    );
    const error = errorBox("wizard-start-error");
    const cancel = h(
      "button",
      { id: "wizard-not-now", type: "button", onclick: () => (this.person.id ? this.leave() : this.discardNew()) },
      this.person.id ? t("ui.wizard.cancel") : t("ui.wizard.not_now_discard"),
    );
    const answered = Object.keys(this.session.answers).length;
    replace(this.root, 
      this.header(h("p", { class: "lead" }, tx(this.form.description))),
      h(
        "div",
        { class: "row" },
        this.forms.length > 1 ? field(t("ui.wizard.form"), formSelect) : null,
        field(t("ui.wizard.person_language"), personLang, t("ui.wizard.person_language_hint")),
      ),
      h(
        "section",
        { class: "script", "aria-labelledby": "opening-title" },
        h("h2", { id: "opening-title" }, t("screening.opening_script")),
        this.both(this.form.opening_script, "script-text"),
      ),
      answered
        ? h(
            "div",
            { class: "notice info" },
            h("p", {}, t("ui.wizard.answers_kept", { n: answered })),
            h(
              "button",
              {
                id: "wizard-start-again",
                type: "button",
                class: "link",
                onclick: () => {
                  this.session.answers = {};
                  this.save();
                  this.intro();
                },
              },
              t("ui.wizard.start_again"),
            ),
          )
        : null,
      h("p", { class: "hint consent-hint" }, this.person.id ? t("ui.wizard.agree_hint_case") : t("ui.wizard.agree_hint_new")),
      error,
      // Kept in view below a long opening script on a small screen (1024×600).
      h("div", { class: "actions sticky-actions" }, start, cancel),
    );
    start.focus();
  }

  /** The person agreed: their case is recorded now, from the new-case form's draft. */
  async createCase(button, error) {
    let state;
    try {
      state = await busy(button, () => call("create_case", { fields: this.person.pendingFields }));
    } catch (failure) {
      showError(error, failure);
      return false;
    }
    await drafts.discard(NEW_CASE_DRAFT);
    this.person = state;
    sessions.set(state.id, this.session);
    this.keeper = this.makeKeeper();
    // From now on a quick exit or a lock comes back to this case's screening.
    app.route = { screen: "wizard", id: state.id };
    return this.current();
  }

  /** "Not now" for someone new: nothing is recorded, and what was typed about them is dropped. */
  async discardNew() {
    await drafts.discard(NEW_CASE_DRAFT);
    app.navigate({ screen: "cases" });
  }

  async leave() {
    // Stored before the case page reads it, so the page can say the screening is paused.
    await this.keeper.flush().catch(() => {});
    app.navigate({ screen: "case", id: this.person.id });
  }

  // ---- One question ------------------------------------------------------------------------

  question(id) {
    const visible = this.visible();
    const index = visible.findIndex((q) => q.id === id);
    const question = visible[index];
    this.session.current = id;
    this.save();
    const resumed = this.session.resumed;
    this.session.resumed = false;

    const error = errorBox("wizard-error");
    const legendId = uid("question");
    const controls = this.answerControls(question, legendId);
    const progressText = t("ui.wizard.progress", { n: index + 1, total: visible.length });
    const progress = h("div", { id: "wizard-progress", class: "progress" }, h("span", {}, progressText), h("progress", { max: String(visible.length), value: String(index + 1), "aria-hidden": "true" }));
    const firstOfSection = index === 0 || visible[index - 1].section.id !== question.section.id;
    const back = h("button", { id: "wizard-back", type: "button", onclick: () => this.back(question) }, t("ui.wizard.back"));
    // After the last question comes the check of the answers, where Finish records them.
    const forward = h("button", { id: "wizard-next", type: "submit", class: "primary" }, t("ui.wizard.next"));
    const single = question.type === "yes_no_unsure_declined" || question.type === "single_choice";
    const pause = h("button", { id: "wizard-pause", type: "button", class: "link", onclick: () => this.leave() }, t("ui.wizard.pause"));

    const formElement = h(
      "form",
      { class: "question", dataset: { question: question.id }, novalidate: true },
      h(
        "fieldset",
        { "aria-describedby": `${legendId}-theirs` },
        h("legend", { id: legendId, class: "question-text" }, tx(question.text)),
        this.personLang() !== language()
          ? h("p", { id: `${legendId}-theirs`, class: "theirs question-theirs", lang: this.personLang() }, tx(question.text, this.personLang()))
          : null,
        controls.element,
      ),
      h(
        "div",
        { class: "help" },
        // A question that can stop the interview shows how to ask it at once.
        question.help ? h("details", { open: Boolean(question.stop) }, h("summary", {}, t("screening.how_to_ask")), h("p", {}, tx(question.help))) : null,
        h("details", {}, h("summary", {}, t("screening.why_we_ask")), this.both(question.why)),
      ),
      error,
      // Kept in view below a long question and its help on a small screen (1024×600).
      h("div", { class: "actions wizard-nav sticky-actions" }, forward, back, pause),
      h("p", { class: "hint keys" }, t(single ? "ui.wizard.keys" : "ui.wizard.keys_other")),
    );
    formElement.addEventListener("submit", (event) => {
      event.preventDefault();
      const fault = problem(question, this.session.answers[question.id]);
      if (fault) {
        showError(error, t(fault, { min: question.min ?? "", max: question.max ?? "" }));
        controls.focus();
        return;
      }
      if (this.stopsAt(question)) this.stopped(question);
      else if (this.visible().slice(-1)[0].id === question.id) this.review();
      else {
        const after = this.visible();
        const at = after.findIndex((q) => q.id === question.id);
        this.question(after[at + 1].id);
      }
    });
    // One click or one key per question: choosing an answer with the mouse, or with the key shown
    // beside it, goes on (a stop answer to the advice, the last question to the check of the
    // answers); arrows only select, Enter goes on.
    let pointed = false;
    formElement.addEventListener("keydown", (event) => {
      const input = single ? answerForKey(event, formElement) : null;
      if (!input) {
        this.keys(event, formElement);
        return;
      }
      event.preventDefault();
      // The answer given already (the worker came back to this question): it stands, and on.
      if (input.checked) {
        formElement.requestSubmit();
        return;
      }
      pointed = true;
      input.click();
    });
    const mark = (event) => {
      pointed = single && Boolean(event.target.closest(".choice"));
    };
    formElement.addEventListener("pointerdown", mark);
    formElement.addEventListener("mousedown", mark);
    // A click on the answer already chosen changes nothing: forget it once the click is over.
    formElement.addEventListener("click", () => setTimeout(() => (pointed = false), 0));
    controls.onChange = () => {
      this.save();
      showError(error, null);
      const byPointer = pointed;
      pointed = false;
      if (this.stopsAt(question)) {
        if (byPointer) this.stopped(question);
        return;
      }
      if (byPointer) {
        formElement.requestSubmit();
        return;
      }
      // Answers can show or hide later questions: the progress follows.
      const after = this.visible();
      const at = after.findIndex((q) => q.id === question.id);
      progress.firstChild.textContent = t("ui.wizard.progress", { n: at + 1, total: after.length });
      progress.lastChild.max = after.length;
      progress.lastChild.value = at + 1;
    };

    replace(this.root, 
      this.header(progress),
      resumed ? h("p", { class: "notice info" }, t("ui.wizard.resumed")) : null,
      firstOfSection ? h("h2", { class: "section-title" }, tx(question.section.title)) : null,
      firstOfSection && question.section.intro ? h("div", { class: "section-intro" }, this.both(question.section.intro)) : null,
      formElement,
    );
    controls.focus();
    // Each question opens at the top of the page, its answers in sight.
    const main = document.getElementById("main");
    if (main) main.scrollTop = 0;
    if (document.activeElement) document.activeElement.scrollIntoView({ block: "nearest" });
  }

  /** After the last question: the answers to check, and Finish, which records them. Each can
   * still be changed; the draft keeps the last question as where the screening stands. */
  review() {
    const visible = this.visible();
    const headingId = uid("review");
    const heading = h("h2", { id: headingId, class: "section-title" }, t("ui.wizard.check_title"));
    const error = errorBox("wizard-error");
    const finish = h(
      "button",
      { id: "wizard-finish", type: "button", class: "primary", "aria-describedby": `${headingId}-hint`, onclick: () => this.finish(finish, error) },
      t("ui.wizard.finish"),
    );
    const back = h("button", { id: "wizard-back", type: "button", onclick: () => this.question(visible[visible.length - 1].id) }, t("ui.wizard.back"));
    const pause = h("button", { id: "wizard-pause", type: "button", class: "link", onclick: () => this.leave() }, t("ui.wizard.pause"));
    replace(
      this.root,
      this.header(),
      h(
        "section",
        { id: "wizard-review", class: "review", "aria-labelledby": headingId },
        heading,
        h("p", { id: `${headingId}-hint`, class: "hint" }, t("ui.wizard.check_hint", { n: visible.length })),
        error,
        // Finish first, in sight without scrolling; the answers below it.
        h("div", { class: "actions wizard-nav" }, finish, back, pause),
        h(
          "dl",
          { class: "review-answers" },
          visible.map((question) =>
            h(
              "div",
              { class: "review-answer", dataset: { question: question.id } },
              h("dt", {}, tx(question.text)),
              h(
                "dd",
                {},
                h("span", {}, this.answerText(question, this.session.answers[question.id])),
                " ",
                h(
                  "button",
                  { type: "button", class: "link review-change", "aria-label": t("ui.wizard.check_change_label", { question: tx(question.text) }), onclick: () => this.question(question.id) },
                  t("ui.wizard.check_change"),
                ),
              ),
            ),
          ),
        ),
      ),
    );
    const main = document.getElementById("main");
    if (main) main.scrollTop = 0;
    // Enter records: the one step after the last answer.
    finish.focus();
  }

  /** An answer as the worker reads it back, in the interface's language. */
  answerText(question, answer) {
    if (answer === undefined) return t("ui.wizard.check_not_answered");
    if (answer === DECLINED) return t("answer.declined");
    const values = Array.isArray(answer) ? answer : [answer];
    switch (question.type) {
      case "yes_no_unsure_declined":
        return t(ANSWER_KEYS[answer] || "ui.wizard.check_not_answered");
      case "single_choice":
      case "multiple_choice":
        return values.map((value) => {
          const found = (question.options || []).find((o) => o.value === value);
          return found ? tx(found.label) : String(value);
        }).join(", ");
      case "country":
        return values.map((value) => codeLabel("country", value)).join(", ");
      case "date":
        return writeDay(String(answer));
      default:
        return String(answer);
    }
  }

  /** The stop this question's answer triggers (e.g. "no" to "is it safe to talk here?"). */
  stopsAt(question) {
    const answer = this.session.answers[question.id];
    const stop = question.stop;
    return stop && typeof answer === "string" && stop.when.includes(answer) ? stop : null;
  }

  /** Going on would not be safe: what to do now instead of the next question. */
  stopped(question) {
    const stop = this.stopsAt(question);
    const heading = h("h1", { tabindex: "-1" }, t("ui.wizard.stop_title"));
    const end = h("button", { id: "wizard-stop-end", type: "button", class: "primary", onclick: () => this.endStopped() }, t("ui.wizard.stop_end"));
    const back = h("button", { id: "wizard-stop-back", type: "button", onclick: () => this.question(question.id) }, t("ui.wizard.stop_back"));
    replace(
      this.root,
      h(
        "section",
        { id: "wizard-stop", class: "result stop", dataset: { question: question.id } },
        h("p", { class: "eyebrow" }, this.forPerson()),
        heading,
        h("div", { class: "level-box stop-box" }, h("p", { id: "wizard-stop-advice", class: "next-step" }, tx(stop.advice))),
        h("div", { class: "actions" }, end, back),
      ),
    );
    const main = document.getElementById("main");
    if (main) main.scrollTop = 0;
    heading.focus();
  }

  /** The interview ends here: its answers are not kept, and the case page is next. */
  async endStopped() {
    sessions.delete(this.person.id);
    if (this.keeper) await this.keeper.drop();
    app.navigate({ screen: "case", id: this.person.id });
  }

  back(question) {
    const visible = this.visible();
    const index = visible.findIndex((q) => q.id === question.id);
    if (index <= 0) this.intro();
    else this.question(visible[index - 1].id);
  }

  /** Enter goes on (except in a long answer); 1–9 tick the nth answer of a multiple choice. */
  keys(event, formElement) {
    const target = event.target;
    if (event.key === "Enter" && !event.shiftKey && !event.ctrlKey && !event.altKey) {
      if (target.tagName === "TEXTAREA" || target.tagName === "BUTTON" || target.tagName === "SUMMARY" || target.tagName === "SELECT") return;
      event.preventDefault();
      formElement.requestSubmit();
      return;
    }
    if (/^[1-9]$/.test(event.key) && target.type === "checkbox" && !event.repeat) {
      const inputs = [...formElement.querySelectorAll(".choices input")];
      const chosen = inputs[Number(event.key) - 1];
      if (chosen) {
        event.preventDefault();
        chosen.click();
        chosen.focus();
      }
    }
  }

  /** The inputs of one question, bound to its answer. */
  answerControls(question, legendId) {
    const answers = this.session.answers;
    const handle = { element: null, focus: () => {}, onChange: () => {} };
    const set = (value) => {
      if (value === undefined || value === "" || (Array.isArray(value) && value.length === 0)) delete answers[question.id];
      else answers[question.id] = value;
      handle.onChange();
    };
    const name = question.id;
    const theirs = this.personLang() !== language() ? this.personLang() : null;
    // `label` is [worker's words, person's words]: the person can read along in their language.
    // `key`: the key that gives this answer and goes on, shown beside it (choice questions).
    const choice = (type, value, label, checked, key) => {
      const input = h("input", { type, name, value, id: uid(`answer-${name}`), checked });
      if (key) input.setAttribute("aria-keyshortcuts", key);
      const [own, other] = Array.isArray(label) ? label : [label, null];
      return [
        input,
        h(
          "div",
          { class: ["choice", value === DECLINED ? "declined" : null] },
          input,
          h("label", { for: input.id }, own, theirs && other && other !== own ? h("span", { class: "theirs choice-theirs", lang: theirs }, other) : null),
          key ? h("kbd", { class: "answer-key", "aria-hidden": "true", title: t("ui.wizard.answer_key", { key }) }, key) : null,
        ),
      ];
    };
    const both = (key) => [t(key), theirs ? tIn(key, theirs) : null];
    const option = (o) => [tx(o.label), theirs ? tx(o.label, theirs) : null];

    if (question.type === "yes_no_unsure_declined" || question.type === "single_choice") {
      const options =
        question.type === "single_choice"
          ? question.options.map((o) => [o.value, option(o)])
          : YES_NO.map((value) => [value, both(ANSWER_KEYS[value])]);
      options.push([DECLINED, both("answer.declined")]);
      const made = options.map(([value, label], at) => choice("radio", value, label, answers[name] === value, ANSWER_KEY_LIST[at]));
      for (const [input] of made) input.addEventListener("change", () => input.checked && set(input.value));
      handle.element = h("div", { class: "choices", role: "radiogroup", "aria-labelledby": legendId }, made.map(([, element]) => element));
      handle.focus = () => (made.find(([input]) => input.checked) || made[0])[0].focus();
      return handle;
    }

    if (question.type === "multiple_choice") {
      const chosen = Array.isArray(answers[name]) ? answers[name] : [];
      const made = question.options.map((o) => choice("checkbox", o.value, option(o), chosen.includes(o.value)));
      const [declined, declinedElement] = choice("checkbox", DECLINED, both("answer.declined"), answers[name] === DECLINED);
      const read = () => made.filter(([input]) => input.checked).map(([input]) => input.value);
      for (const [input] of made) {
        input.addEventListener("change", () => {
          if (input.checked) declined.checked = false;
          set(read());
        });
      }
      declined.addEventListener("change", () => {
        if (declined.checked) {
          for (const [input] of made) input.checked = false;
          set(DECLINED);
        } else set(undefined);
      });
      handle.element = h("div", { class: "choices" }, h("p", { class: "hint" }, t("ui.wizard.choose_any")), made.map(([, element]) => element), declinedElement);
      handle.focus = () => made[0][0].focus();
      return handle;
    }

    // Text, date, number and country answers: one input and a "prefers not to answer" box.
    const [declined, declinedElement] = choice("checkbox", DECLINED, both("answer.declined"), answers[name] === DECLINED);
    let input;
    let read;
    let write;
    if (question.type === "country" && question.multiple) {
      const chosen = Array.isArray(answers[name]) ? answers[name] : [];
      const filter = h("input", { type: "search", id: uid("country-filter"), autocomplete: "off" });
      const boxes = choices("country").map((entry) => {
        const box = h("input", { type: "checkbox", id: uid("country"), value: entry.value, checked: chosen.includes(entry.value) });
        return h("div", { class: "check", dataset: { name: entry.label.toLowerCase() } }, box, h("label", { for: box.id }, entry.label));
      });
      const list = h("div", { class: "country-list" }, boxes);
      filter.addEventListener("input", () => {
        const wanted = filter.value.trim().toLowerCase();
        for (const box of boxes) box.hidden = Boolean(wanted) && !box.dataset.name.includes(wanted);
      });
      input = h("div", { class: "countries" }, field(t("ui.wizard.country_filter"), filter), list);
      read = () => [...list.querySelectorAll("input:checked")].map((box) => box.value);
      write = () => {
        for (const box of list.querySelectorAll("input")) box.checked = false;
      };
      list.addEventListener("change", () => {
        declined.checked = false;
        set(read());
      });
      handle.focus = () => filter.focus();
    } else {
      if (question.type === "country") {
        input = h(
          "select",
          { id: uid("answer") },
          h("option", { value: "" }, t("ui.wizard.choose_country")),
          choices("country").map((entry) => h("option", { value: entry.value }, entry.label)),
        );
        input.value = typeof answers[name] === "string" && answers[name] !== DECLINED ? answers[name] : "";
      } else if (question.type === "long_text") {
        input = h("textarea", { id: uid("answer"), rows: "4" });
      } else {
        const attrs = { id: uid("answer"), type: "text", autocomplete: "off" };
        if (question.type === "number") attrs.inputmode = question.integer ? "numeric" : "decimal";
        if (question.type === "date") attrs.placeholder = t("ui.date.placeholder");
        input = h("input", attrs);
      }
      if (question.type !== "country") {
        const value = answers[name];
        input.value = value === undefined || value === DECLINED ? "" : question.type === "date" ? writeDay(String(value)) : String(value);
      }
      input.setAttribute("aria-labelledby", legendId);
      read = () => {
        const text = input.value.trim();
        if (!text) return undefined;
        if (question.type === "number") {
          const number = Number(text.replace(",", "."));
          return Number.isFinite(number) ? number : text;
        }
        if (question.type === "date") return parseDay(text) || text;
        return text;
      };
      write = () => {
        input.value = "";
      };
      input.addEventListener(question.type === "country" ? "change" : "input", () => {
        declined.checked = false;
        set(read());
      });
      handle.focus = () => input.focus();
    }
    declined.addEventListener("change", () => {
      if (declined.checked) {
        write();
        set(DECLINED);
      } else set(read());
    });
    handle.element = h("div", { class: "free-answer" }, input, h("div", { class: "choices" }, declinedElement));
    if (question.type === "date") handle.element.prepend(h("p", { class: "hint" }, t("ui.date.hint")));
    return handle;
  }

  // ---- Recording and the result -------------------------------------------------------------

  async finish(button, error) {
    const visible = this.visible();
    const missing = visible.find((q) => problem(q, this.session.answers[q.id]));
    if (missing) {
      this.question(missing.id);
      showError(document.getElementById("wizard-error"), t(problem(missing, this.session.answers[missing.id])));
      return;
    }
    let recorded;
    try {
      recorded = await busy(button, () =>
        call("record_screening", {
          id: this.person.id,
          form: this.form.id,
          answers: shownAnswers(this.form, this.session.answers),
          lang: this.personLang(),
        }),
      );
    } catch (failure) {
      this.keeper.flush().catch(() => {});
      showError(error, failure);
      if (failure.field && visible.some((q) => q.id === failure.field) && failure.field !== this.session.current) {
        this.question(failure.field);
        showError(document.getElementById("wizard-error"), failure);
      }
      return;
    }
    sessions.delete(this.person.id);
    await this.keeper.drop();
    if (!this.current()) return;
    this.result(recorded);
  }

  reasonText(key) {
    const own = this.form.strings && this.form.strings[key];
    return own ? tx(own) : t(key);
  }

  result(recorded) {
    const result = recorded.result;
    const level = result.level;
    const levelKeys = {
      immediate_danger: ["level.immediate_danger", "level.immediate_danger.next_step"],
      refer_now: ["level.refer_now", "level.refer_now.next_step"],
      follow_up: ["level.follow_up", "level.follow_up.next_step"],
      no_indicators: ["level.no_indicators", "level.no_indicators.next_step"],
    }[level] || [`level.${level}`, `level.${level}.next_step`];
    const questionText = (id) => {
      const question = questions(this.form).find((q) => q.id === id);
      return question ? tx(question.text) : id;
    };
    const slot = h("div", { class: "referral-slot" });
    const sent = h("div", { class: "sent", "aria-live": "polite" });
    const urgency = level === "immediate_danger" ? "emergency" : level === "refer_now" ? "urgent" : "routine";
    const openReferral = async (serviceId, serviceType) => {
      const { openReferralForm } = await import("../referral.js");
      await openReferralForm(slot, {
        caseId: this.person.id,
        serviceId,
        serviceType,
        urgency,
        referred: this.referred || [],
        onDone: (state) => {
          // The same service is not offered again, here or in the referral form.
          this.referred = ((state && state.referrals) || []).filter((referral) => referral.status !== "declined").map((referral) => referral.service);
          for (const button of this.root.querySelectorAll(".result-refer")) {
            if (this.referred.includes(button.dataset.service)) {
              button.disabled = true;
              button.textContent = t("ui.result.referred");
            }
          }
          slot.replaceChildren();
          sent.append(h("p", { class: "notice success" }, t("ui.result.referral_sent", { service: serviceId ? serviceNameOf(recorded.suggested, serviceId) : "" })));
          sent.focus();
        },
        onCancel: () => slot.replaceChildren(),
      });
      slot.scrollIntoView({ block: "start" });
    };
    sent.setAttribute("tabindex", "-1");
    const suggested = recorded.suggested || [];
    const services = suggested.length
      ? h(
          "ul",
          { class: "suggested" },
          suggested.map((entry) =>
            h(
              "li",
              {},
              serviceCardLite(entry, h("button", { type: "button", class: "primary result-refer", dataset: { service: entry.id }, onclick: () => openReferral(entry.id, (result.suggested_services || []).find((kind) => entry.types.includes(kind))) }, t("ui.result.refer"))),
            ),
          ),
        )
      : h("p", { class: "muted" }, t("directory.none_suggested"));
    const heading = h("h1", { tabindex: "-1" }, t("screening.result"));
    replace(this.root, 
      h(
        "section",
        { id: "screening-result", class: "result", dataset: { level } },
        h("p", { class: "eyebrow" }, t("ui.wizard.for_person", { name: this.person.fields.name, code: this.person.code })),
        heading,
        h(
          "div",
          { id: "result-level", class: "level-box", dataset: { level } },
          h("p", { class: "level-name" }, t(levelKeys[0])),
          h("p", { class: "next-step" }, t(levelKeys[1])),
        ),
        h("h2", {}, t("screening.reasons")),
        (result.reasons || []).length
          ? h("ul", { class: "reasons" }, result.reasons.map((reason) => h("li", { class: "result-reason", dataset: { key: reason.key } }, this.reasonText(reason.key))))
          : h("p", { class: "muted" }, t("ui.result.no_reasons")),
        (result.declined || []).length
          ? h("details", { class: "declined" }, h("summary", {}, t(result.declined.length === 1 ? "ui.result.declined_one" : "ui.result.declined_other", { n: result.declined.length })), h("ul", {}, result.declined.map((id) => h("li", {}, questionText(id)))))
          : null,
        h("h2", {}, t("screening.suggested_services")),
        services,
        sent,
        slot,
        this.form.closing_script
          ? h("section", { class: "script" }, h("h2", {}, t("ui.result.closing_script")), this.both(this.form.closing_script, "script-text"))
          : null,
        h(
          "div",
          { class: "actions" },
          h("button", { id: "result-open-case", type: "button", class: suggested.length ? null : "primary", onclick: () => app.navigate({ screen: "case", id: this.person.id }) }, t("ui.result.open_case")),
          h("button", { id: "result-refer-other", type: "button", onclick: () => openReferral() }, t("ui.result.refer_other")),
          h("button", { type: "button", onclick: () => app.navigate({ screen: "cases" }) }, t("ui.common.back_to_cases")),
        ),
      ),
    );
    heading.focus();
  }
}

/** The answer a key gives (the key shown beside it), unless the key is typing or a shortcut. */
function answerForKey(event, formElement) {
  if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) return null;
  const target = event.target;
  const typing =
    target.isContentEditable ||
    target.tagName === "TEXTAREA" ||
    target.tagName === "SELECT" ||
    (target.tagName === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(target.type));
  if (typing) return null;
  return [...formElement.querySelectorAll(".choices input[aria-keyshortcuts]")].find((input) => input.getAttribute("aria-keyshortcuts") === event.key) || null;
}

function serviceNameOf(list, id) {
  const entry = (list || []).find((service) => service.id === id);
  return entry ? serviceText(entry, "name") : id;
}

/** A suggested service: name, kinds, hours and contact, and the Refer button. */
function serviceCardLite(entry, button) {
  return h(
    "div",
    { class: "service-card", dataset: { service: entry.id } },
    h("h3", {}, serviceText(entry, "name")),
    h("p", { class: "muted" }, entry.types.map((kind) => codeLabel("service_type", kind)).join(", ")),
    entry.hours ? h("p", {}, `${t("directory.hours")}: ${serviceText(entry, "hours")}`) : null,
    entry.contact ? h("p", {}, `${t("directory.contact")}: ${serviceText(entry, "contact")}`) : null,
    h("div", { class: "actions" }, button),
  );
}
