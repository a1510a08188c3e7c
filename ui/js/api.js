// The one door to the Rust shell. Every command goes through `call`, which turns a rejection
// into {kind, message, field, faults} whatever shape it arrived in, and tells the app when the
// workspace turned out to be locked.

// The shell's `CommandError` kinds (src-tauri/src/error.rs `KINDS`; a test there checks this list).
const KINDS = [
  "wrong_passphrase",
  "locked",
  "invalid",
  "not_found",
  "workspace_exists",
  "no_workspace",
  "not_discardable",
  "already_referred",
  "figures_changed",
  "figures_gone",
  "directory_not_editable",
  "too_large",
  "file_exists",
  "export_passphrase",
  "sync",
  "internal",
];

/** Commands that write an event: the sync bar refreshes its "changes waiting" after them. */
const WRITES = new Set([
  "create_case",
  "update_case",
  "close_case",
  "discard_case",
  "reopen_case",
  "resolve_conflict",
  "add_note",
  "add_consent",
  "add_referral",
  "set_referral_status",
  "add_process_event",
  "add_justice_step",
  "add_perpetrator",
  "add_service_received",
  "record_screening",
  "import_cases",
]);

const listeners = { locked: [], wrote: [] };

/** `on("locked", fn)`: a command found the workspace locked. `on("wrote", fn)`: a change was recorded. */
export function on(what, fn) {
  listeners[what].push(fn);
}

function tauri() {
  const global = window.__TAURI__;
  if (!global || !global.core) {
    throw { kind: "internal", message: "Harbour's window is not connected to the application.", field: null };
  }
  return global;
}

/** Any rejection → {kind, message, field}. */
export function toError(raw) {
  let value = raw;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return { kind: "internal", message: raw, field: null };
    }
  }
  if (value && typeof value === "object" && typeof value.kind === "string") {
    return {
      kind: KINDS.includes(value.kind) ? value.kind : "internal",
      message: typeof value.message === "string" ? value.message : "",
      field: typeof value.field === "string" ? value.field : null,
      // Every refused field as data: {field, code, max?} (docs/DESKTOP.md).
      faults: Array.isArray(value.faults) ? value.faults.filter((fault) => fault && typeof fault.field === "string" && typeof fault.code === "string") : [],
      // For `sync`: why, as a code the interface translates (i18n.js `syncFailureText`).
      reason: typeof value.reason === "string" ? value.reason : null,
    };
  }
  const message = value && typeof value.message === "string" ? value.message : String(value);
  return { kind: "internal", message, field: null };
}

export async function call(command, args) {
  let result;
  try {
    result = await tauri().core.invoke(command, args || {});
  } catch (raw) {
    const error = toError(raw);
    if (error.kind === "locked") listeners.locked.forEach((fn) => fn());
    throw error;
  }
  if (WRITES.has(command)) listeners.wrote.forEach((fn) => fn());
  return result;
}

/** Listens to a shell event; the handler gets the payload. Resolves to an unlisten function. */
export function listen(event, handler) {
  return tauri().event.listen(event, (message) => handler(message.payload));
}
