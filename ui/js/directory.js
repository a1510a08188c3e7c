// The deployment's service directory, fetched once (it holds no case data).

import { call } from "./api.js";

let directory = null;
let loading = null;

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

export function service(id) {
  return directory ? directory.services.find((entry) => entry.id === id) || null : null;
}

export function serviceName(id) {
  const entry = service(id);
  return entry ? entry.name : id;
}
