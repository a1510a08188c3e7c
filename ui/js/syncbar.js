// The sync bar at the bottom of every screen: calm words for where sync stands. Offline is
// normal; a failure says what happened and that Harbour will try again.

import { call } from "./api.js";
import { h } from "./dom.js";
import { dateTime, number, plural, syncFailureText, syncNoticeText, t, time } from "./i18n.js";

const state = {
  unlocked: false,
  enrolled: false,
  status: null,
  waiting: 0,
  lastSyncMs: null,
};

let parts = null;

export function build() {
  const text = h("span", { id: "sync-state", dataset: { state: "idle" }, "aria-live": "polite" });
  const progress = h("progress", { id: "sync-progress", max: "100", hidden: true });
  const button = h("button", { id: "sync-now", type: "button", class: "link", hidden: true, onclick: syncNow });
  parts = { text, progress, button };
  progress.setAttribute("aria-labelledby", "sync-state");
  render();
  return h("footer", { id: "sync-bar" }, h("span", { class: "sync-dot", "aria-hidden": "true" }), text, progress, button);
}

/** From an AppStatus: whether the laptop is enrolled and unlocked. */
export function setStatus(status) {
  state.unlocked = Boolean(status && status.unlocked);
  state.enrolled = Boolean(status && status.enrolled && status.workspace_exists !== false);
  if (!state.unlocked) {
    state.status = null;
    state.waiting = 0;
  }
  render();
}

/** The workspace locked: show nothing about what is waiting. */
export function locked() {
  state.unlocked = false;
  state.status = null;
  state.waiting = 0;
  render();
}

/** Asks the shell where sync stands (after unlock, after a change was recorded). */
export async function refresh() {
  if (!state.unlocked) return;
  try {
    const info = await call("sync_status");
    state.enrolled = Boolean(info.enrolled);
    state.waiting = info.waiting || 0;
    state.lastSyncMs = info.last_sync_ms || null;
    if (info.status) state.status = mergeWaiting(info.status, state.waiting);
    else if (state.status) state.status = mergeWaiting(state.status, state.waiting);
  } catch {
    // the bar keeps what it knew
  }
  render();
}

/** A `sync-status` event. */
export function update(status) {
  if (!status || !state.unlocked) return;
  state.status = status;
  if (status.state === "offline" || status.state === "synced") state.waiting = status.waiting || 0;
  if (status.state === "synced") state.lastSyncMs = status.at_ms;
  render();
}

function mergeWaiting(status, waiting) {
  if (status.state === "offline" || status.state === "synced") return { ...status, waiting };
  return status;
}

async function syncNow() {
  try {
    await call("sync_now");
  } catch {
    // the loop reports its own state
  }
}

function when(ms) {
  const date = new Date(ms);
  const today = new Date();
  return date.toDateString() === today.toDateString() ? time(ms) : dateTime(ms);
}

function retryText(ms) {
  if (!ms || ms < 60_000) return t("ui.sync.retry_soon");
  const minutes = Math.ceil(ms / 60_000);
  return t(plural(minutes, "ui.sync.retry_minutes_one", "ui.sync.retry_minutes_other"), { n: number(minutes) });
}

function phaseText(progress) {
  const p = progress || {};
  switch (p.phase) {
    case "pushing":
      return t("ui.sync.phase_pushing", { n: number(p.pushed || 0), total: number((p.pushed || 0) + (p.waiting || 0)) });
    case "sharing":
      return t("ui.sync.phase_sharing");
    case "pulling":
      return t("ui.sync.phase_pulling", { n: number(p.pulled || 0) });
    case "done":
      return t("ui.sync.phase_done");
    default:
      return t("ui.sync.phase_starting");
  }
}

/** [data-state, sentence, progress value (null: none, -1: indeterminate), can sync now]. */
function describe() {
  if (!state.unlocked) {
    return state.enrolled
      ? ["locked", t("ui.sync.locked"), null, false]
      : ["local", t("ui.sync.local_only"), null, false];
  }
  if (!state.enrolled) return ["local", t("ui.sync.local_only"), null, false];
  const status = state.status;
  const waiting = state.waiting;
  const waitingText = t(plural(waiting, "ui.sync.waiting_one", "ui.sync.waiting_other"), { n: number(waiting) });
  if (!status) {
    if (waiting > 0) return ["waiting", waitingText, null, true];
    if (state.lastSyncMs) return ["synced", t("ui.sync.all_sent", { time: when(state.lastSyncMs) }), null, true];
    return ["idle", t("ui.sync.not_yet"), null, true];
  }
  switch (status.state) {
    case "offline":
      return [
        "offline",
        waiting > 0
          ? t(plural(waiting, "ui.sync.offline_one", "ui.sync.offline_other"), { n: number(waiting) })
          : t("ui.sync.offline_none"),
        null,
        true,
      ];
    case "syncing": {
      const p = status.progress || {};
      const total = (p.pushed || 0) + (p.waiting || 0);
      const value = p.phase === "pushing" && total > 0 ? Math.round((100 * (p.pushed || 0)) / total) : -1;
      return ["syncing", phaseText(p), value, false];
    }
    case "synced": {
      const said =
        waiting > 0
          ? `${waitingText} · ${t("ui.sync.last_sync", { time: when(status.at_ms) })}`
          : t("ui.sync.all_sent", { time: when(status.at_ms) });
      // What this sync refused to take (a service directory not signed by the organisation),
      // in the worker's language; the sync itself went well.
      const notices = (status.notices || []).map(syncNoticeText).filter(Boolean);
      if (notices.length > 0) return ["notice", `${said} · ${notices.join(" ")}`, null, true];
      return [waiting > 0 ? "waiting" : "synced", said, null, true];
    }
    case "failed":
      return [
        "failed",
        // The reason's sentence in the worker's language; the shell's English `message` is never shown.
        `${t("ui.sync.failed")} ${syncFailureText(status.reason)} ${retryText(status.retry_in_ms)}`,
        null,
        true,
      ];
    default:
      return ["idle", t("ui.sync.not_yet"), null, true];
  }
}

export function render() {
  if (!parts) return;
  const [kind, sentence, progress, canSync] = describe();
  parts.text.dataset.state = kind;
  parts.text.textContent = sentence;
  const bar = parts.text.parentElement;
  if (bar) bar.dataset.state = kind;
  if (progress === null) {
    parts.progress.hidden = true;
  } else {
    parts.progress.hidden = false;
    if (progress < 0) parts.progress.removeAttribute("value");
    else parts.progress.value = progress;
  }
  parts.button.textContent = t("ui.sync.now");
  parts.button.hidden = !canSync;
}
