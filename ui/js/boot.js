// The entry point. It asks the shell for its status and the translation table at once, so that
// the answers travel while the first screen's modules are still arriving, then starts the
// interface (main.js), which waits for them.

const core = window.__TAURI__ && window.__TAURI__.core;
if (core) {
  window.__harbourBoot = Promise.all([core.invoke("app_status"), core.invoke("translations")]);
  // main.js handles a failure; this only keeps it from being reported as unhandled meanwhile.
  window.__harbourBoot.catch(() => {});
}
import("./main.js");
