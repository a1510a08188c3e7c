// Drafts: what is typed on a form and not recorded yet, kept in the encrypted store (`meta`,
// `draft:` keys) while it is typed, so a quick exit, a lock or leaving the screen loses nothing.
// Each form keeps its draft through `keeper`; the frame asks `flushAll` before it locks, and
// says "your work was saved" only when `allSaved` is true.

import { call } from "./api.js";
import { debounce } from "./dom.js";

/** Keepers of forms on screen, so the frame can save what is pending before it locks. */
const live = new Set();
/** Keys whose last save failed: the work they hold is not safe yet. */
const failed = new Set();

export function load(key) {
  return call("load_draft", { key }).catch(() => null);
}

export function discard(key) {
  failed.delete(key);
  return call("discard_draft", { key }).catch(() => {});
}

function save(key, value) {
  return call("save_draft", { key, value }).then(
    () => failed.delete(key),
    (error) => {
      failed.add(key);
      throw error;
    },
  );
}

/**
 * A draft that follows a form: `keep()` after each change saves `read()` a moment later (an
 * empty reading, null, discards the draft); `flush()` saves at once and resolves when stored;
 * `drop()` discards it (the form was recorded or cancelled); `stop()` when the form goes away.
 */
export function keeper(key, read, wait = 400) {
  const write = () => {
    const value = read();
    return value === null || value === undefined ? discard(key) : save(key, value);
  };
  const later = debounce(() => write().catch(() => {}), wait);
  // After drop() the form's work is recorded or abandoned: nothing is written again until the
  // form changes once more (a note form stays on screen for the next note).
  let dropped = false;
  const handle = {
    key,
    keep: () => {
      dropped = false;
      live.add(handle);
      later();
    },
    flush: () => {
      later.cancel();
      return dropped ? Promise.resolve() : write();
    },
    drop: () => {
      dropped = true;
      later.cancel();
      live.delete(handle);
      return discard(key);
    },
    stop: () => {
      live.delete(handle);
      return handle.flush().catch(() => {});
    },
  };
  live.add(handle);
  return handle;
}

/** Saves every form on screen now; resolves when all have answered. */
export function flushAll() {
  const pending = [...live].map((handle) => handle.flush().catch(() => {}));
  live.clear();
  return Promise.all(pending);
}

/** Drops the drafts of every form on screen whose key ends with `suffix` (`:<case id>` of a
 * case just discarded): nothing of it is written again. */
export function dropAll(suffix) {
  return Promise.all([...live].filter((handle) => handle.key.endsWith(suffix)).map((handle) => handle.drop()));
}

/** True when every draft saved so far is stored. */
export function allSaved() {
  return failed.size === 0;
}
