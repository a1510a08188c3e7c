// The deployment's service directory, fetched once (it holds no case data), and again after a
// sync that may have brought a newer one.

import { call } from "./api.js";
import { language, t } from "./i18n.js";

/** The template's words for a text not filled in yet, said in the worker's language. */
const PLACEHOLDERS = {
  "To be filled in by the administrator": "ui.directory.placeholder",
  "Template entry: confirm the service, its focal point and its hours before use.": "ui.directory.template_note",
};

let directory = null;
let loading = null;
/** The organisation's teams ({id, name}), for the services linked to one. */
let teams = null;

export function loadDirectory() {
  if (directory) return Promise.resolve(directory);
  if (!loading) {
    loading = call("service_directory").then(
      (result) => {
        directory = result;
        return result;
      },
      (error) => {
        loading = null;
        throw error;
      },
    );
  }
  return loading;
}

/** The organisation's teams, fetched once (none outside an organisation). */
export async function loadTeams() {
  if (!teams) teams = await call("directory_teams").catch(() => []);
  return teams;
}

/** The name of the team `id` (a service's `team`), or null when it is not known here. */
export function teamName(id) {
  const team = id && teams ? teams.find((entry) => entry.id === id) : null;
  return team ? team.name : null;
}

export function service(id) {
  return directory ? directory.services.find((entry) => entry.id === id) || null : null;
}

export function serviceName(id) {
  const entry = service(id);
  return entry ? serviceText(entry, "name") : id;
}

/** A service's text (`name`, `description`, `hours`, `contact`, `notes`) in the interface language. */
export function serviceText(entry, key) {
  const translated = entry.translations && entry.translations[language()] && entry.translations[language()][key];
  const text = translated || entry[key] || "";
  return PLACEHOLDERS[text] ? t(PLACEHOLDERS[text]) : text;
}

/** Forgets the directory held, so the next screen asks the shell (a sync brought a newer one). */
export function forgetDirectory() {
  directory = null;
  loading = null;
  teams = null;
}

/** Takes a directory just saved (the editor), so every screen shows it at once. */
export function setDirectory(next) {
  directory = next;
  loading = null;
}
