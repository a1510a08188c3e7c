// Settings → Join an organisation: a laptop started on its own joins its organisation with an
// invitation and the code given apart from it, keeping its cases, which the first sync sends.

import { call } from "./api.js";
import { app } from "./app.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";
import { busy, errorBox, field, formIsComplete, markInvalid, showError } from "./ui.js";

/** Fills `slot` with the join form on a standalone laptop; leaves it empty otherwise. */
/** `onJoined` runs once the laptop belongs to the organisation (other panels may change). */
export function mount(slot, onJoined) {
  if (!app.status || app.status.enrolled) {
    slot.replaceChildren();
    return;
  }
  const invitation = h("textarea", { id: "join-later-invitation", rows: "3", spellcheck: "false", autocapitalize: "off" });
  const code = h("input", { id: "join-later-code", type: "text", autocomplete: "off", spellcheck: "false", autocapitalize: "off" });
  const error = errorBox("join-later-error");
  const submit = h("button", { id: "join-later-submit", type: "submit", class: "primary" }, t("ui.join_later.submit"));
  const form = h(
    "form",
    { id: "join-later", class: "panel", "aria-labelledby": "join-later-title", novalidate: true },
    h("h2", { id: "join-later-title", tabindex: "-1" }, t("ui.join_later.title")),
    h("p", {}, t("ui.join_later.lead")),
    field(t("ui.first_run.invitation"), invitation, t("ui.first_run.invitation_hint")),
    field(t("ui.first_run.code"), code, t("ui.first_run.code_hint")),
    error,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const controls = { invitation, code };
    const checks = [
      ["invitation", !invitation.value.trim(), "ui.first_run.invitation_missing"],
      ["code", !code.value.trim(), "ui.first_run.code_missing"],
    ];
    if (!formIsComplete(error, controls, checks)) return;
    try {
      const joined = await busy(submit, () =>
        call("join_organisation", { input: { invitation: invitation.value.trim(), code: code.value.trim() } }),
      );
      app.setStatus(joined.status);
      replace(
        slot,
        h(
          "section",
          { id: "join-later", class: "panel", "aria-labelledby": "join-later-title" },
          h("h2", { id: "join-later-title", tabindex: "-1" }, t("ui.join_later.title")),
          h(
            "p",
            { id: "join-later-done", class: "notice success", role: "status" },
            t(
              joined.cases === 0 ? "ui.join_later.done_none" : joined.cases === 1 ? "ui.join_later.done_one" : "ui.join_later.done",
              { team: joined.status.team || "", n: joined.cases },
            ),
          ),
        ),
      );
      document.getElementById("join-later-title").focus();
      if (onJoined) onJoined();
    } catch (failure) {
      showError(error, failure);
      markInvalid(failure, controls);
    }
  });
  replace(slot, form);
}
