// Start-up, the frame around every screen (top bar, sync bar), moving between screens, locking
// and the quick exit. Only what the first screen needs is loaded here (the unlock and first-run
// screens); every other screen is a module imported when it is first shown.

import { call, listen, on, toError } from "./api.js";
import { app } from "./app.js";
import { debounce, focus, h, replace } from "./dom.js";
import { setLanguage, setTable, t } from "./i18n.js";
import * as syncBar from "./syncbar.js";
import { forgetDirectory } from "./directory.js";
import * as drafts from "./drafts.js";
import * as firstRunScreen from "./screens/first-run.js";
import * as unlockScreen from "./screens/unlock.js";

// The two screens Harbour can open on come with the first batch of modules: a dynamic import
// of one cost another round through the webview's asset protocol (~30 ms of the start-up).
const SCREENS = {
  "first-run": async () => firstRunScreen,
  unlock: async () => unlockScreen,
  cases: () => import("./screens/cases.js"),
  case: () => import("./screens/case.js"),
  "new-case": () => import("./screens/new-case.js"),
  wizard: () => import("./screens/wizard.js"),
  settings: () => import("./screens/settings.js"),
  data: () => import("./screens/data.js"),
  dashboard: () => import("./screens/dashboard.js"),
  figure: () => import("./screens/figure.js"),
  annual: () => import("./screens/annual.js"),
};

/** Screens that need no unlocked workspace. */
const OPEN_SCREENS = ["first-run", "unlock"];

/** Modules loaded so far, so each can be told to forget what it holds when Harbour locks. */
const loaded = new Map();

let shell = null;
let cleanup = null;
let navigation = 0;
let neutral = false;
let reported = false;
/** True from the moment the unlock screen is asked for until the next unlock. */
let lockShowing = false;

// ---- The frame ----------------------------------------------------------------------------

function buildShell() {
  const main = h("main", { id: "main", tabindex: "-1" });
  const brand = h("span", { class: "brand" }, "Harbour");
  const home = h("button", { id: "nav-cases", type: "button", class: "nav", onclick: () => app.navigate({ screen: "cases" }) });
  const dashboard = h("button", {
    id: "nav-dashboard",
    type: "button",
    class: "nav",
    onclick: () => app.navigate({ screen: "dashboard" }),
  });
  const data = h("button", { id: "nav-data", type: "button", class: "nav", onclick: () => app.navigate({ screen: "data" }) });
  const settings = h("button", {
    id: "settings-button",
    type: "button",
    class: "nav",
    onclick: () => app.navigate({ screen: "settings" }),
  });
  const lock = h("button", { id: "lock-button", type: "button", class: "nav", onclick: lockNow });
  const exit = h("button", { id: "quick-exit", type: "button", class: "quick-exit", onclick: quickExit });
  const skip = h("a", { class: "skip-link", href: "#main" });
  const header = h(
    "header",
    { class: "topbar" },
    brand,
    h("nav", { class: "topnav" }, home, dashboard, data),
    h("div", { class: "topactions" }, settings, lock, exit),
  );
  const footer = syncBar.build();
  shell = { main, home, dashboard, data, settings, lock, exit, skip };
  replace(document.body, skip, header, main, footer);
  updateShell();
}

/** The frame's words and which of its buttons can be used now. */
function updateShell() {
  if (!shell) return;
  const unlocked = Boolean(app.status && app.status.unlocked);
  shell.skip.textContent = t("ui.shell.skip_to_content");
  shell.home.textContent = t("ui.shell.cases");
  shell.home.hidden = !unlocked;
  shell.dashboard.textContent = t("ui.shell.dashboard");
  shell.dashboard.hidden = !unlocked;
  shell.data.textContent = t("ui.shell.data");
  shell.data.hidden = !unlocked;
  shell.settings.textContent = t("ui.shell.settings");
  shell.settings.disabled = !unlocked;
  shell.lock.textContent = t("ui.shell.lock");
  shell.lock.disabled = !unlocked;
  const screen = app.route && app.route.screen;
  for (const [button, own] of [[shell.home, "cases"], [shell.dashboard, "dashboard"], [shell.data, "data"], [shell.settings, "settings"]]) {
    if (screen === own) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  shell.exit.textContent = t("ui.shell.quick_exit");
  shell.exit.title = t("ui.shell.quick_exit_hint");
  document.title = "Harbour";
  syncBar.render();
}

app.setStatus = (status) => {
  const languageChanged = !app.status || app.status.language !== status.language;
  app.status = status;
  if (status.unlocked) lockShowing = false;
  setLanguage(status.language);
  syncBar.setStatus(status);
  updateShell();
  return languageChanged;
};

// ---- Moving between screens -----------------------------------------------------------------

app.navigate = async (route) => {
  if (neutral) return;
  let target = route;
  if (!OPEN_SCREENS.includes(target.screen) && !(app.status && app.status.unlocked)) {
    app.resumeRoute = target;
    target = { screen: app.status && app.status.workspace_exists === false ? "first-run" : "unlock" };
  }
  const token = ++navigation;
  let module;
  try {
    module = await SCREENS[target.screen]();
  } catch (error) {
    showFailure(error);
    return;
  }
  if (token !== navigation || neutral) return;
  loaded.set(target.screen, module);
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // a screen that failed to tidy up must not keep the next one from showing
    }
    cleanup = null;
  }
  const main = shell.main;
  main.replaceChildren();
  main.className = `screen-${target.screen}`;
  app.route = target;
  try {
    const result = await module.render(main, target, () => token === navigation);
    if (token !== navigation) {
      if (typeof result === "function") result();
      return;
    }
    cleanup = typeof result === "function" ? result : null;
  } catch (error) {
    if (token !== navigation) return;
    if (error && error.kind === "locked") return;
    showFailure(error);
  }
  if (token !== navigation) return;
  document.body.dataset.screen = target.screen;
  updateShell();
  if (!main.contains(document.activeElement)) {
    const heading = main.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      focus(heading);
    }
  }
  if (!reported) {
    reported = true;
    // After the screen's first paint (the task after the next animation frame), as the
    // minimal app of the start-up benchmark reports its own.
    const screen = target.screen;
    requestAnimationFrame(() => setTimeout(() => call("ui_ready", { screen }).catch(() => {}), 0));
  }
};

app.rerender = () => (app.route ? app.navigate(app.route) : Promise.resolve());

function showFailure(error) {
  import("./screens/failure.js").then((module) => module.render(shell.main, error));
}

// ---- Locking --------------------------------------------------------------------------------

/** Drops everything sensitive held in memory and on screen. */
function forget() {
  for (const module of loaded.values()) {
    if (typeof module.forget === "function") module.forget();
  }
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // nothing to keep
    }
    cleanup = null;
  }
  if (shell) shell.main.replaceChildren();
  syncBar.locked();
}

function showLocked(reason) {
  // The shell's `locked` event and the answer to `lock` both arrive: show the screen once, so
  // the passphrase field the worker is typing in is not replaced.
  if (neutral || lockShowing) return;
  lockShowing = true;
  const onScreen = app.route && !OPEN_SCREENS.includes(app.route.screen);
  if (onScreen) app.resumeRoute = app.route;
  if (app.status) app.status = { ...app.status, unlocked: false };
  forget();
  updateShell();
  app.navigate({ screen: "unlock", reason });
}

/** The administrator's wipe order was carried out: nothing of the workspace is left. */
function showWiped() {
  forget();
  app.status = { ...(app.status || {}), unlocked: false, workspace_exists: false, enrolled: false };
  lockShowing = false;
  app.resumeRoute = null;
  updateShell();
  app.navigate({ screen: "first-run", wiped: true });
}

async function lockNow() {
  // What is typed on screen is stored before the workspace closes.
  await drafts.flushAll();
  try {
    await call("lock");
  } catch {
    // locked already, or the shell is gone: the screen locks either way
  }
  showLocked("manual");
}

// ---- Quick exit ----------------------------------------------------------------------------

/** Blanks to a harmless page at once, then tells the shell to lock. */
function quickExit() {
  if (neutral) return;
  neutral = true;
  neutralSince = performance.now();
  navigation += 1;
  // Read what is typed on screen before it is blanked; the shell locks once it is stored.
  const saving = drafts.flushAll();
  if (app.route && !OPEN_SCREENS.includes(app.route.screen)) app.resumeRoute = app.route;
  forget();
  shell = null;
  if (app.status) app.status = { ...app.status, unlocked: false };
  const notes = h("textarea", { id: "neutral-notes", rows: "12", spellcheck: "false" });
  const page = h(
    "div",
    { class: "neutral" },
    h("h1", {}, t("ui.neutral.title")),
    h("label", { for: "neutral-notes", class: "visually-hidden" }, t("ui.neutral.title")),
    notes,
  );
  replace(document.body, page);
  document.body.dataset.screen = "neutral";
  document.title = t("ui.neutral.title");
  saving.then(() => {
    workSaved = drafts.allSaved();
    return call("quick_exit");
  }).catch(() => {});
}

/** Whether everything typed was stored when the quick exit locked Harbour. */
let workSaved = true;

/** From the harmless page back to the unlock screen (the same key: Esc twice). */
function leaveNeutral() {
  neutral = false;
  lockShowing = true;
  buildShell();
  app.navigate({ screen: "unlock", reason: workSaved ? "quick_exit" : "quick_exit_unsaved" });
}

// No earlier press: `performance.now()` counts from the page's load, so a zero here would make
// the first Escape in the first second count as two.
let lastEscape = -Infinity;
// When the neutral screen appeared. Someone frightened presses Esc again and again: presses in
// the next two seconds must not bring the unlock screen straight back.
let neutralSince = -Infinity;
const DOUBLE_PRESS_MS = 1000;
const NEUTRAL_SETTLE_MS = 2000;

function onKey(event) {
  if (event.key !== "Escape" || event.repeat) return;
  const now = performance.now();
  if (neutral && now - neutralSince < NEUTRAL_SETTLE_MS) {
    lastEscape = -Infinity;
    event.preventDefault();
    return;
  }
  if (now - lastEscape < DOUBLE_PRESS_MS) {
    lastEscape = -Infinity;
    event.preventDefault();
    event.stopPropagation();
    if (neutral) leaveNeutral();
    else quickExit();
    return;
  }
  lastEscape = now;
}

// ---- Activity (the auto-lock timer lives in the shell) ----------------------------------------

let lastTouch = 0;

function activity() {
  if (neutral || !app.status || !app.status.unlocked) return;
  const now = Date.now();
  if (now - lastTouch < 10_000) return;
  lastTouch = now;
  call("touch").catch(() => {});
}

// ---- Start ---------------------------------------------------------------------------------

async function start() {
  window.addEventListener("keydown", onKey, true);
  for (const kind of ["keydown", "pointerdown", "pointermove", "wheel"]) {
    window.addEventListener(kind, activity, { capture: true, passive: true });
  }
  on("locked", () => showLocked("locked"));
  const refreshSync = debounce(() => syncBar.refresh(), 800);
  on("wrote", refreshSync);

  let status;
  let table;
  try {
    const early = window.__harbourBoot;
    delete window.__harbourBoot;
    [status, table] = early
      ? await early.catch((error) => Promise.reject(toError(error)))
      : await Promise.all([call("app_status"), call("translations")]);
  } catch (error) {
    replace(document.body, h("p", { class: "starting" }, error.message || String(error)));
    return;
  }
  setTable(table);
  app.status = status;
  setLanguage(status.language);
  buildShell();
  syncBar.setStatus(status);
  listen("locked", (payload) => showLocked(payload && payload.reason)).catch(() => {});
  listen("sync-status", (payload) => {
    if (payload && payload.state === "wiped") return showWiped();
    // A sync may have brought a newer service directory: the next screen asks for it again.
    if (payload && payload.state === "synced") {
      forgetDirectory();
      // An open screen may show what the sync changed (the case page: its referrals' delivery).
      window.dispatchEvent(new CustomEvent("harbour:synced"));
    }
    return syncBar.update(payload);
  }).catch(() => {});
  const first = !status.workspace_exists ? "first-run" : status.unlocked ? "cases" : "unlock";
  lockShowing = first === "unlock";
  await app.navigate(status.wiped ? { screen: "first-run", wiped: true } : { screen: first });
  if (status.unlocked) syncBar.refresh();
}

start();
