// What every screen shares: the shell's status, where the worker is, and how to go elsewhere.
// main.js fills in `navigate` and the rest at start-up.

export const app = {
  /** The last AppStatus from the shell. */
  status: null,
  /** The route on screen: {screen, …params}. */
  route: null,
  /** Where to go back to after an unlock. */
  resumeRoute: null,
  /** navigate(route) — set by main.js. */
  navigate: async () => {},
  /** Re-renders the screen on display (after a language change). */
  rerender: async () => {},
  /** Takes a fresh AppStatus (after unlock, settings…). */
  setStatus: () => {},
};
