// What a screen shows when it could not open: the reason in plain words and a way back.

import { app } from "../app.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { errorBox, showError } from "../ui.js";

export function render(root, error) {
  const box = errorBox("screen-error");
  showError(box, error && error.kind ? error : { kind: "internal", message: String((error && error.message) || error) });
  const back = h("button", { type: "button", class: "primary", onclick: () => app.navigate({ screen: "cases" }) }, t("ui.common.back_to_cases"));
  replace(root, h("div", { class: "panel narrow" }, h("h1", {}, t("ui.failure.title")), box, h("div", { class: "actions" }, back)));
  back.focus();
}
