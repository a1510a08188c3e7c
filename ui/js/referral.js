// Making a referral: choose a service from the directory (by type and language), record the
// person's consent and what it covers, then send. The consent is recorded first and the
// referral names it, so a referral never shares more than the person agreed to.

import { call } from "./api.js";
import { h, replace, uid } from "./dom.js";
import { languageName, t } from "./i18n.js";
import { choices, codeLabel, loadLists } from "./codes.js";
import { loadDirectory, loadTeams, serviceText, teamName } from "./directory.js";
import * as drafts from "./drafts.js";
import { busy, errorBox, faultSlot, field, showFaults } from "./ui.js";

const SCOPES = ["identity", "contact", "case_summary", "screenings", "health", "notes"];
const DEFAULT_SCOPES = ["identity", "case_summary"];

/** A service described for the worker: what, when, how to reach, whom it accepts. */
export function serviceCard(entry, extra) {
  const line = (label, value) => (value ? h("div", { class: "kv" }, h("dt", {}, label), h("dd", {}, value)) : null);
  return h(
    "div",
    { class: "service-card", dataset: { service: entry.id } },
    h("h3", {}, serviceText(entry, "name")),
    entry.organisation ? h("p", { class: "muted" }, serviceText(entry, "organisation")) : null,
    entry.description ? h("p", {}, serviceText(entry, "description")) : null,
    h(
      "dl",
      { class: "kvs" },
      line(t("directory.types"), entry.types.map((type) => codeLabel("service_type", type)).join(", ")),
      line(t("directory.languages"), entry.languages.map(languageName).join(", ")),
      line(t("directory.hours"), serviceText(entry, "hours")),
      line(t("directory.contact"), [serviceText(entry, "contact"), entry.phone, entry.email].filter(Boolean).join(" · ")),
      line(t("directory.area"), entry.area),
      line(t("directory.accepts"), (entry.accepts || []).map((accepts) => t("accepts." + accepts)).join(", ")),
      line(t("directory.team"), teamName(entry.team)),
    ),
    extra || null,
  );
}

/**
 * Renders the referral form into `container`. `options`: {caseId, serviceId?, serviceType?,
 * urgency?, draft?, referred? (service ids not to offer again), onDone(case), onCancel()}. What is chosen and typed is kept as the draft
 * `referral:<case id>` until the referral is sent or cancelled; the person's consent is never
 * restored from a draft: it is asked again.
 */
export async function openReferralForm(container, options) {
  const [directory] = await Promise.all([loadDirectory(), loadLists(), loadTeams()]);
  const services = directory.services;
  // A service the person is already referred to (and that did not decline) is not offered twice.
  const referred = options.referred || [];

  const typeFilter = h(
    "select",
    { id: "referral-type" },
    h("option", { value: "" }, t("ui.referral.any_type")),
    choices("service_type")
      .filter((choice) => services.some((entry) => entry.types.includes(choice.value)))
      .map((choice) => h("option", { value: choice.value }, choice.label)),
  );
  const languages = [...new Set(services.flatMap((entry) => entry.languages))];
  const languageFilter = h(
    "select",
    { id: "referral-language" },
    h("option", { value: "" }, t("ui.referral.any_language")),
    languages.map((code) => h("option", { value: code }, languageName(code))),
  );
  const serviceSelect = h("select", { id: "referral-service", required: true });
  const serviceType = h("select", { id: "referral-service-type" });
  const card = h("div", { class: "service-slot", "aria-live": "polite" });
  const reason = h(
    "select",
    { id: "referral-reason" },
    choices("referral_reason").map((choice) => h("option", { value: choice.value }, choice.label)),
  );
  const urgency = h(
    "select",
    { id: "referral-urgency" },
    choices("urgency").map((choice) => h("option", { value: choice.value }, choice.label)),
  );
  urgency.value = options.urgency || "routine";
  const details = h("textarea", { id: "referral-details", rows: "3" });
  const consent = h("input", { id: "referral-consent", type: "checkbox" });
  const sharedWith = h("input", { id: "referral-shared-with", type: "text", autocomplete: "off" });
  const method = h(
    "select",
    { id: "referral-consent-method" },
    choices("consent_method").map((choice) => h("option", { value: choice.value }, choice.label)),
  );
  method.value = "verbal";
  const scopeBoxes = SCOPES.map((scope) =>
    h("input", { type: "checkbox", id: `consent-scope-${scope}`, name: "consent-scope", value: scope, checked: DEFAULT_SCOPES.includes(scope) }),
  );
  const scopeSlot = faultSlot("referral-scope-fault");
  for (const box of scopeBoxes) box.setAttribute("aria-describedby", scopeSlot.id);
  // What the form checks itself and what core refuses (`with`, `details`), each shown beside
  // its control; the boxes of what is shared are one control, marked as a group.
  const controls = {
    service: serviceSelect,
    scope: { input: scopeBoxes[0], faultSlot: scopeSlot },
    with: sharedWith,
    details,
    consent,
  };
  const labels = { scope: t("ui.referral.scope"), consent: t("ui.referral.consent_short") };
  const error = errorBox("referral-error");
  const submit = h("button", { id: "referral-submit", type: "submit", class: "primary" }, t("ui.referral.submit"));
  const draft = options.draft && typeof options.draft === "object" ? options.draft : null;
  const cancel = h(
    "button",
    {
      id: "referral-cancel",
      type: "button",
      onclick: () => {
        keeper.drop();
        if (options.onCancel) options.onCancel();
      },
    },
    t("ui.common.cancel"),
  );

  let sharedEdited = false;
  sharedWith.addEventListener("input", () => {
    sharedEdited = true;
  });

  const selected = () => services.find((entry) => entry.id === serviceSelect.value) || null;

  function fillServices(keep) {
    const type = typeFilter.value;
    const lang = languageFilter.value;
    const shown = services.filter(
      (entry) =>
        (!type || entry.types.includes(type)) && (!lang || entry.languages.includes(lang)) && !referred.includes(entry.id),
    );
    replace(serviceSelect, 
      h("option", { value: "" }, shown.length ? t("ui.referral.choose_service") : t("ui.referral.no_service")),
      shown.map((entry) =>
        h("option", { value: entry.id }, `${serviceText(entry, "name")} — ${entry.types.map((kind) => codeLabel("service_type", kind)).join(", ")}`),
      ),
    );
    serviceSelect.value = shown.some((entry) => entry.id === keep) ? keep : "";
    showService();
  }

  function showService() {
    const entry = selected();
    replace(card, entry ? serviceCard(entry) : h("p", { class: "muted" }, t("ui.referral.service_hint")));
    replace(serviceType, 
      ...(entry ? entry.types : []).map((kind) => h("option", { value: kind }, codeLabel("service_type", kind))),
    );
    if (entry) {
      const wanted = typeFilter.value || options.serviceType;
      serviceType.value = entry.types.includes(wanted) ? wanted : entry.types[0];
    }
    serviceType.disabled = !entry || entry.types.length < 2;
    if (!sharedEdited) sharedWith.value = entry ? serviceText(entry, "name") : "";
  }

  typeFilter.addEventListener("change", () => fillServices(serviceSelect.value));
  languageFilter.addEventListener("change", () => fillServices(serviceSelect.value));
  serviceSelect.addEventListener("change", showService);

  const titleId = uid("referral-title");
  const form = h(
    "form",
    { id: "referral-form", class: "panel referral-form", "aria-labelledby": titleId, novalidate: true },
    h("h2", { id: titleId }, t("ui.referral.title")),
    draft ? h("p", { id: "referral-restored", class: "notice info" }, t("ui.referral.restored")) : null,
    h(
      "fieldset",
      {},
      h("legend", {}, t("ui.referral.step_service")),
      h("div", { class: "row" }, field(t("ui.referral.type"), typeFilter), field(t("ui.referral.language"), languageFilter)),
      field(t("ui.referral.service"), serviceSelect),
      card,
      field(t("ui.referral.service_type"), serviceType),
      h("div", { class: "row" }, field(t("ui.referral.reason"), reason), field(t("ui.referral.urgency"), urgency)),
      field(t("ui.referral.details"), details, t("ui.referral.details_hint")),
    ),
    h(
      "fieldset",
      { class: "consent" },
      h("legend", {}, t("ui.referral.step_consent")),
      h("p", {}, t("ui.referral.consent_explain")),
      h(
        "fieldset",
        { id: "referral-scope", class: "scopes field" },
        h("legend", {}, t("ui.referral.scope")),
        scopeSlot,
        scopeBoxes.map((box) =>
          h("div", { class: "check" }, box, h("label", { for: box.id }, codeLabel("consent_scope", box.value))),
        ),
      ),
      h("div", { class: "row" }, field(t("ui.referral.shared_with"), sharedWith), field(t("ui.referral.method"), method)),
      h(
        "div",
        { class: "field check-field" },
        faultSlot("referral-consent-fault"),
        h("div", { class: "check strong" }, consent, h("label", { for: "referral-consent" }, t("ui.referral.consent"))),
      ),
    ),
    error,
    h("div", { class: "actions" }, submit, cancel),
  );

  let consentId = null;
  let consentKey = null;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const entry = selected();
    const scope = scopeBoxes.filter((box) => box.checked).map((box) => box.value);
    // Every missing answer at once, in the order of the form.
    const missing = [
      ["service", !entry, "ui.referral.service_missing"],
      ["scope", scope.length === 0, "ui.referral.scope_missing"],
      ["consent", !consent.checked, "ui.referral.consent_missing"],
    ]
      .filter(([, fails]) => fails)
      .map(([field, , key]) => ({ field, code: "form", sentence: t(key) }));
    if (missing.length) {
      showFaults(error, controls, { kind: "invalid", faults: missing }, labels);
      return;
    }
    showFaults(error, controls, null);
    const consentInput = {
      scope,
      shared_with: sharedWith.value.trim() || serviceText(entry, "name"),
      method: method.value,
    };
    const key = JSON.stringify(consentInput);
    try {
      const result = await busy(submit, async () => {
        // A retry after a failed referral reuses the consent already recorded.
        if (!consentId || consentKey !== key) {
          const recorded = await call("add_consent", { id: options.caseId, input: consentInput });
          consentId = recorded.entry_id;
          consentKey = key;
        }
        const input = {
          service: entry.id,
          service_type: serviceType.value || entry.types[0],
          reason: reason.value,
          urgency: urgency.value,
          consent_id: consentId,
        };
        if (details.value.trim()) input.details = details.value.trim();
        return call("add_referral", { id: options.caseId, input });
      });
      await keeper.drop();
      options.onDone && options.onDone(result.case, result.entry_id);
    } catch (failure) {
      showFaults(error, controls, failure, labels);
    }
  });

  if (draft) {
    typeFilter.value = draft.type_filter || "";
    languageFilter.value = draft.language_filter || "";
  }
  fillServices(options.serviceId || "");
  if (options.serviceId && !selected()) {
    typeFilter.value = "";
    fillServices(options.serviceId);
  }
  if (draft) {
    if (draft.service_type && [...serviceType.options].some((option) => option.value === draft.service_type)) serviceType.value = draft.service_type;
    if (draft.reason) reason.value = draft.reason;
    if (draft.urgency) urgency.value = draft.urgency;
    details.value = draft.details || "";
    if (typeof draft.shared_with === "string" && draft.shared_with_edited) {
      sharedWith.value = draft.shared_with;
      sharedEdited = true;
    }
    if (draft.method) method.value = draft.method;
    if (Array.isArray(draft.scope)) for (const box of scopeBoxes) box.checked = draft.scope.includes(box.value);
  }
  const reading = () => ({
    service: serviceSelect.value,
    type_filter: typeFilter.value,
    language_filter: languageFilter.value,
    service_type: serviceType.value,
    reason: reason.value,
    urgency: urgency.value,
    details: details.value,
    shared_with: sharedWith.value,
    shared_with_edited: sharedEdited,
    method: method.value,
    scope: scopeBoxes.filter((box) => box.checked).map((box) => box.value),
  });
  // A form just opened and not touched is not kept; one brought back from a draft is.
  const untouched = draft ? null : JSON.stringify(reading());
  const keeper = drafts.keeper(`referral:${options.caseId}`, () => {
    const now = reading();
    return JSON.stringify(now) === untouched ? null : now;
  });
  form.addEventListener("input", () => keeper.keep());
  form.addEventListener("change", () => keeper.keep());
  replace(container, form);
  (selected() ? reason : typeFilter).focus();
  return form;
}
