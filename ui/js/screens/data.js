// Data: what leaves Harbour on purpose and what comes in. Export cases (CSV or XLSX, with the
// command line's filters and optional sheets), the anonymised CTDC data set or the HTCDS
// transfer; import past cases from a spreadsheet (columns mapped, every row checked, then all
// or nothing). The shell's commands are those of src-tauri/src/commands/export.rs and import.rs.

import { call } from "../api.js";
import { choices, loadLists } from "../codes.js";
import { h, replace } from "../dom.js";
import { fieldLabel, number, plural, t } from "../i18n.js";
import { busy, errorBox, faultText, field, markInvalid, pageHeader, parseDay, passphraseInput, showError, showToggle } from "../ui.js";

const IDENTIFICATION = {
  possible: "code.identification_status.possible",
  presumed: "code.identification_status.presumed",
  identified: "code.identification_status.identified",
  not_a_victim: "code.identification_status.not_a_victim",
  not_recorded: "ui.data.identification_not_recorded",
};

const SHEETS = {
  referrals: "ui.data.sheet_referrals",
  screenings: "ui.data.sheet_screenings",
  justice: "ui.data.sheet_justice",
};

/** Why the record-level CTDC file was refused, in words. */
const CTDC_REFUSALS = {
  aggregates_too_few_people: "ui.data.ctdc_refused_too_few",
  aggregates_too_many_withheld: "ui.data.ctdc_refused_withheld",
  aggregates_too_much_lost: "ui.data.ctdc_refused_lost",
};

export async function render(root) {
  await loadLists().catch(() => null);
  replace(root, pageHeader(t("ui.data.title"), t("ui.data.lead")), exportPanel(), importPanel());
  document.getElementById("export-kind").focus();
}

// ---- Export ---------------------------------------------------------------------------------

function exportPanel() {
  const kind = h(
    "select",
    { id: "export-kind" },
    h("option", { value: "cases" }, t("ui.data.kind_cases")),
    h("option", { value: "ctdc" }, t("ui.data.kind_ctdc")),
    h("option", { value: "htcds" }, t("ui.data.kind_htcds")),
  );
  const path = h("input", { id: "export-path", type: "text", autocomplete: "off", spellcheck: "false" });
  const format = h(
    "select",
    { id: "export-format" },
    h("option", { value: "csv" }, t("ui.data.format_csv")),
    h("option", { value: "xlsx" }, t("ui.data.format_xlsx")),
  );
  const status = h(
    "select",
    { id: "export-status" },
    h("option", { value: "" }, t("ui.data.any")),
    choices("case_status").map((choice) => h("option", { value: choice.value }, choice.label)),
  );
  const team = h("input", { id: "export-team", type: "text", autocomplete: "off" });
  const from = h("input", { id: "export-from", type: "text", inputmode: "numeric", autocomplete: "off", placeholder: t("ui.date.placeholder") });
  const to = h("input", { id: "export-to", type: "text", inputmode: "numeric", autocomplete: "off", placeholder: t("ui.date.placeholder") });
  const identification = h(
    "select",
    { id: "export-identification" },
    h("option", { value: "" }, t("ui.data.any")),
    Object.entries(IDENTIFICATION).map(([value, key]) => h("option", { value }, t(key))),
  );
  const sheetBoxes = Object.entries(SHEETS).map(([sheet, key]) => {
    const box = h("input", { id: `export-sheet-${sheet}`, type: "checkbox", value: sheet });
    return { sheet, box, element: h("div", { class: "check" }, box, h("label", { for: box.id }, t(key))) };
  });
  const k = h("input", { id: "export-k", type: "number", min: "2", step: "1", inputmode: "numeric", value: "11" });
  const cases = h("input", { id: "export-cases", type: "text", autocomplete: "off", spellcheck: "false" });
  const recipient = h("select", { id: "export-recipient" }, h("option", { value: "" }, t("ui.data.htcds_to_choose")));
  const passphrase = passphraseInput("export-passphrase", "new-password");
  const again = passphraseInput("export-passphrase-again", "new-password");
  const plaintext = h("input", { id: "export-plaintext", type: "checkbox" });
  const plaintextWarning = h("p", { id: "export-plaintext-warning", class: "notice warning", hidden: true }, t("ui.data.plaintext_warning"));
  const save = h("button", { id: "export-save", type: "submit", class: "primary" }, t("ui.data.export_save"));
  const error = errorBox("export-error");
  const done = h("div", { id: "export-done", class: "saved", role: "status" });

  const casesPart = h(
    "fieldset",
    { id: "export-cases-options" },
    h("legend", {}, t("ui.data.filters")),
    h("div", { class: "row" }, field(t("ui.data.format"), format), field(t("ui.field.status"), status)),
    h("div", { class: "row" }, field(t("ui.data.team"), team, t("ui.data.team_hint")), field(t("ui.field.identification_status"), identification)),
    h("div", { class: "row" }, field(t("ui.data.from"), from, t("ui.data.period_hint")), field(t("ui.data.to"), to)),
    h("div", { role: "group", "aria-labelledby": "export-sheets-label" }, h("p", { class: "hint", id: "export-sheets-label" }, t("ui.data.sheets")), sheetBoxes.map((item) => item.element)),
  );
  const ctdcPart = h("div", { id: "export-ctdc-options", hidden: true }, h("p", { class: "hint" }, t("ui.data.ctdc_help")), field(t("ui.data.k"), k, t("ui.data.k_hint")));
  const htcdsPart = h(
    "div",
    { id: "export-htcds-options", hidden: true },
    h("p", { class: "hint" }, t("ui.data.htcds_help")),
    field(t("ui.data.htcds_to"), recipient, t("ui.data.htcds_to_hint")),
    field(t("ui.data.htcds_cases"), cases, t("ui.data.htcds_cases_hint")),
  );
  // The organisations a transfer may go to, read again each time the HTCDS export is chosen.
  const loadRecipients = async () => {
    const chosen = recipient.value;
    const names = await call("htcds_recipients").catch(() => []);
    replace(recipient, h("option", { value: "" }, t("ui.data.htcds_to_choose")), names.map((name) => h("option", { value: name }, name)));
    recipient.value = names.includes(chosen) ? chosen : "";
  };
  const protectPart = h(
    "fieldset",
    { id: "export-protection" },
    h("legend", {}, t("ui.data.protection")),
    h("p", { class: "hint" }, t("ui.data.protection_help")),
    field(t("ui.data.passphrase"), passphrase, t("ui.data.passphrase_hint")),
    field(t("ui.data.passphrase_again"), again),
    showToggle([passphrase, again]),
    h("div", { class: "check strong" }, plaintext, h("label", { for: plaintext.id }, t("ui.data.plaintext"))),
    plaintextWarning,
  );
  const showKind = () => {
    casesPart.hidden = kind.value !== "cases";
    ctdcPart.hidden = kind.value !== "ctdc";
    htcdsPart.hidden = kind.value !== "htcds";
    protectPart.hidden = kind.value === "ctdc";
    showError(error, null);
    replace(done);
    if (kind.value === "htcds") loadRecipients();
  };
  kind.addEventListener("change", showKind);
  plaintext.addEventListener("change", () => {
    plaintextWarning.hidden = !plaintext.checked;
    passphrase.disabled = plaintext.checked;
    again.disabled = plaintext.checked;
  });

  const form = h(
    "form",
    { id: "export-form", class: "panel", novalidate: true, "aria-labelledby": "data-export" },
    h("h2", { id: "data-export" }, t("ui.data.export")),
    field(t("ui.data.kind"), kind),
    field(t("ui.data.path"), path, t("ui.data.path_hint")),
    casesPart,
    ctdcPart,
    htcdsPart,
    protectPart,
    error,
    done,
    h("div", { class: "actions" }, save),
  );
  const controls = { path, from, to, status, identification, k, cases, recipient, passphrase, passphrase_again: again };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(done);
    showError(error, null);
    if (!path.value.trim()) {
      showError(error, t("ui.data.path_missing"));
      markInvalid({ kind: "invalid", field: "path" }, controls);
      return;
    }
    if (kind.value === "htcds" && !recipient.value) {
      showError(error, t("ui.data.htcds_to_missing"));
      markInvalid({ kind: "invalid", field: "recipient" }, controls);
      return;
    }
    const protection = plaintext.checked
      ? { plaintext: true }
      : { plaintext: false, passphrase: passphrase.value, passphrase_again: again.value };
    try {
      if (kind.value === "cases") {
        // Days are typed as the worker writes them; what is not a day goes as typed, and core says why.
        const day = (input) => (input.value.trim() ? parseDay(input.value) || input.value.trim() : null);
        const input = {
          path: path.value,
          format: format.value,
          filters: { status: status.value || null, team: team.value.trim() || null, from: day(from), to: day(to), identification: identification.value || null },
          sheets: sheetBoxes.filter((item) => item.box.checked).map((item) => item.sheet),
          protection,
        };
        const written = await busy(save, () => call("export_cases", { input }));
        const counts = Object.entries(written.sheets)
          .filter(([sheet]) => sheet !== "dictionary")
          .map(([sheet, rows]) => t("ui.data.sheet_rows", { sheet: t(SHEETS[sheet] || "ui.data.sheet_cases"), rows: number(rows) }))
          .join(", ");
        replace(
          done,
          h("p", { id: "export-done-text" }, t(written.encrypted ? "ui.data.cases_done_encrypted" : "ui.data.cases_done_clear", { rows: number(written.rows), path: written.path })),
          h("p", { class: "hint" }, counts),
        );
      } else if (kind.value === "ctdc") {
        const written = await busy(save, () => call("export_ctdc", { input: { path: path.value, k: Number(k.value) || null } }));
        const text =
          written.release === "records"
            ? t("ui.data.ctdc_done", {
                rows: number(written.rows),
                people: number(written.people),
                k: written.k,
                path: written.path,
                suppressed: number(written.suppressed_values),
                withheld: number(written.withheld_records),
              })
            : t("ui.data.ctdc_refused", {
                why: t(CTDC_REFUSALS[written.release] || "ui.data.ctdc_refused_lost", { k: written.k }),
                k: written.k,
                path: written.path,
                suppressed: number(written.suppressed_values),
              });
        replace(done, h("p", { id: "export-done-text" }, text));
      } else {
        const codes = cases.value.split(/[\s,;]+/).filter(Boolean);
        const written = await busy(save, () => call("export_htcds", { input: { path: path.value, to: recipient.value, cases: codes, protection } }));
        replace(
          done,
          h("p", { id: "export-done-text" }, t(written.encrypted ? "ui.data.htcds_done_encrypted" : "ui.data.htcds_done_clear", { rows: number(written.included.length), path: written.path, to: written.recipient })),
          written.not_consented.length ? h("p", { id: "export-left-out" }, t("ui.data.htcds_left_out", { codes: written.not_consented.join(", ") })) : null,
          written.other_recipient.length ? h("p", { id: "export-left-out-other" }, t("ui.data.htcds_left_out_other", { to: written.recipient, codes: written.other_recipient.join(", ") })) : null,
        );
      }
      passphrase.value = "";
      again.value = "";
    } catch (failure) {
      showError(error, failure);
      if (failure.kind === "export_passphrase") markInvalid({ kind: "invalid", field: failure.field || "passphrase" }, controls);
      else if (failure.kind === "file_exists") markInvalid({ kind: "invalid", field: "path" }, controls);
      else markInvalid(failure, controls);
    }
  });
  return form;
}

// ---- Import ---------------------------------------------------------------------------------

function importPanel() {
  const path = h("input", { id: "import-path", type: "text", autocomplete: "off", spellcheck: "false" });
  const read = h("button", { id: "import-read", type: "submit", class: "primary" }, t("ui.data.import_read"));
  const columnsSlot = h("div", { id: "import-columns" });
  const check = h("button", { id: "import-check", type: "button", hidden: true }, t("ui.data.import_check"));
  const report = h("div", { id: "import-report", "aria-live": "polite" });
  const submit = h("button", { id: "import-submit", type: "button", class: "primary", hidden: true });
  const confirmBox = h("div", { id: "import-confirm-box", class: "notice warning", hidden: true });
  const error = errorBox("import-error");
  const done = h("p", { id: "import-done", class: "saved", role: "status" });
  let columns = [];
  let checked = null;

  const mapping = () => {
    const chosen = {};
    for (const select of columnsSlot.querySelectorAll("select.import-map")) chosen[select.dataset.column] = select.value || null;
    return chosen;
  };
  const forgetCheck = () => {
    checked = null;
    replace(report);
    submit.hidden = true;
    confirmBox.hidden = true;
  };

  const form = h(
    "form",
    { id: "import-form", class: "panel", novalidate: true, "aria-labelledby": "data-import" },
    h("h2", { id: "data-import" }, t("ui.data.import")),
    h("p", { class: "hint" }, t("ui.data.import_help")),
    field(t("ui.data.import_path"), path, t("ui.data.import_path_hint")),
    h("div", { class: "actions" }, read),
    columnsSlot,
    h("div", { class: "actions" }, check),
    report,
    error,
    confirmBox,
    done,
    h("div", { class: "actions" }, submit),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    forgetCheck();
    replace(done);
    showError(error, null);
    replace(columnsSlot);
    check.hidden = true;
    if (!path.value.trim()) {
      showError(error, t("ui.data.import_path_missing"));
      markInvalid({ kind: "invalid", field: "path" }, { path });
      return;
    }
    try {
      const found = await busy(read, () => call("import_columns", { input: { path: path.value } }));
      columns = found.columns;
      const rows = columns.map((column, index) => {
        const select = h(
          "select",
          { id: `import-map-${index}`, class: "import-map", "data-column": column.column },
          h("option", { value: "" }, t("ui.data.import_leave_out")),
          found.fields.map((name) => h("option", { value: name }, fieldLabel(name))),
        );
        select.value = column.field || "";
        select.addEventListener("change", forgetCheck);
        return h("tr", {}, h("th", { scope: "row" }, h("label", { for: select.id }, column.column)), h("td", {}, select));
      });
      replace(
        columnsSlot,
        h(
          "table",
          { class: "dash-table", id: "import-columns-table" },
          h("caption", {}, t("ui.data.import_columns")),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("ui.data.import_column")), h("th", { scope: "col" }, t("ui.data.import_field")))),
          h("tbody", {}, rows),
        ),
      );
      check.hidden = false;
    } catch (failure) {
      showError(error, failure);
      markInvalid(failure.kind === "invalid" && failure.field === "file" ? { kind: "invalid", field: "path" } : failure, { path });
    }
  });

  check.addEventListener("click", async () => {
    forgetCheck();
    replace(done);
    showError(error, null);
    try {
      const plan = await busy(check, () => call("import_check", { input: { path: path.value, mapping: mapping() } }));
      checked = { rows: plan.rows, mapping: mapping() };
      const problems = plan.problems.map((problem) =>
        h(
          "li",
          { class: "import-problem", "data-row": String(problem.row), "data-field": problem.field },
          t("ui.data.import_problem", {
            row: problem.row,
            field: fieldLabel(problem.field),
            what: problemText(problem),
          }),
        ),
      );
      const duplicates = plan.duplicates.map((duplicate) =>
        h("li", { class: "import-duplicate", "data-row": String(duplicate.row) }, t("ui.data.import_duplicate", { row: duplicate.row, code: duplicate.code })),
      );
      replace(
        report,
        h("p", { id: "import-summary" }, plan.problems.length ? t(plural(plan.problems.length, "ui.data.import_problems_one", "ui.data.import_problems"), { rows: number(plan.rows), problems: number(plan.problems.length) }) : t("ui.data.import_clean", { rows: number(plan.rows) })),
        plan.ignored_columns.length ? h("p", { class: "hint", id: "import-ignored" }, t("ui.data.import_ignored", { columns: plan.ignored_columns.join(", ") })) : null,
        problems.length ? h("ul", { id: "import-problems" }, problems) : null,
        duplicates.length ? h("div", {}, h("p", {}, t("ui.data.import_duplicates")), h("ul", { id: "import-duplicates" }, duplicates)) : null,
      );
      if (!plan.problems.length && plan.rows > 0) {
        submit.textContent = t("ui.data.import_submit", { rows: number(plan.rows) });
        submit.hidden = false;
      }
    } catch (failure) {
      showError(error, failure);
    }
  });

  // One confirmation: what will happen, then Import or Cancel.
  submit.addEventListener("click", () => {
    if (!checked) return;
    const yes = h("button", { id: "import-confirm", type: "button", class: "primary" }, t("ui.data.import_confirm"));
    const no = h("button", { id: "import-cancel", type: "button" }, t("ui.common.cancel"));
    replace(confirmBox, h("p", {}, t("ui.data.import_confirm_text", { rows: number(checked.rows) })), h("div", { class: "actions" }, yes, no));
    confirmBox.hidden = false;
    submit.hidden = true;
    no.addEventListener("click", () => {
      confirmBox.hidden = true;
      submit.hidden = false;
      submit.focus();
    });
    yes.addEventListener("click", async () => {
      showError(error, null);
      try {
        const imported = await busy(yes, () => call("import_cases", { input: { path: path.value, mapping: checked.mapping, rows: checked.rows } }));
        confirmBox.hidden = true;
        forgetCheck();
        done.textContent = t("ui.data.import_done", { rows: number(imported.imported) });
      } catch (failure) {
        confirmBox.hidden = true;
        showError(error, failure);
      }
    });
    yes.focus();
  });
  return form;
}

/** What is allowed in a field, in the worker's language; the value itself is never shown. */
function problemText(problem) {
  if (problem.fault && problem.fault.code === "not_allowed" && problem.allowed) {
    return t("ui.data.import_allowed", { allowed: problem.allowed });
  }
  if (problem.fault && problem.fault.code === "not_a_date") return t("ui.data.import_date");
  if (problem.fault) return faultText(problem.fault, "").replace(/^\s*:?\s*/, "");
  return t("ui.data.import_unreadable");
}
