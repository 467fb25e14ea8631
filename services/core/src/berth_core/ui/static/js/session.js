// Who is signed in, what the system allows, and what the user may do in a project.
//
// The server is the judge of every action; these answers only decide what the UI offers.
// A 401 from any call while signed in means the session timed out or was revoked: the user
// goes back to the sign-in page and returns to the same page afterwards.

import * as api from "./api.js";

export const session = {
  user: null, // /users/current, or null when signed out
  info: {}, // /systeminfo (auth_mode, self_registration, project_creation_restriction, ...)
  expired: false, // the last session ended while in use (shown on the sign-in page)
};

const PERMISSION_TTL_MS = 15000;
const permissionCache = new Map();

async function currentUser() {
  if (!api.mayHaveSession()) return null;
  try {
    return await api.get("/users/current", null, { allow401: true });
  } catch (error) {
    // 401: no (or an ended) session; 412: a robot, which has no profile and no UI.
    if (error.status === 401 || error.status === 403 || error.status === 412) return null;
    throw error;
  }
}

/** Read the current user and the system info; an anonymous visitor gets user = null. */
export async function loadSession() {
  const [info, user] = await Promise.all([api.get("/systeminfo", null, { allow401: true }).catch(() => ({})), currentUser()]);
  session.info = info || {};
  session.user = user;
  if (user) session.expired = false;
  permissionCache.clear();
  return user;
}

/** Harbor's form login; throws ApiError (401 for bad credentials, 429 when throttled). */
export async function signIn(principal, password) {
  await api.request("POST", "/c/login", { form: { principal, password }, allow401: true });
  return loadSession();
}

export async function signOut() {
  await api.request("GET", "/c/log_out", { allow401: true }).catch(() => null);
  session.user = null;
  session.expired = false;
  permissionCache.clear();
}

export function isAdmin() {
  return Boolean(session.user?.sysadmin_flag || session.user?.admin_role_in_auth);
}

/** May the user create projects (project_creation_restriction)? */
export function canCreateProject() {
  return isAdmin() || (session.info.project_creation_restriction || "everyone") === "everyone";
}

/**
 * The user's permissions in one project, from /users/current/permissions (relative to the
 * project scope). Returns {can(resource, action)}.
 */
export async function projectPermissions(projectId) {
  const cached = permissionCache.get(projectId);
  if (cached && Date.now() - cached.at < PERMISSION_TTL_MS) return cached.value;
  const list = await api.get("/users/current/permissions", { scope: `/project/${projectId}`, relative: "true" });
  const granted = new Set((list || []).map((p) => `${p.resource}:${p.action}`));
  const value = {
    can(resource, action) {
      return isAdmin() || granted.has(`${resource}:${action}`) || granted.has(`${resource}:*`);
    },
  };
  permissionCache.set(projectId, { at: Date.now(), value });
  return value;
}

/** Forget cached permissions (after a change of members or roles). */
export function forgetPermissions() {
  permissionCache.clear();
}

/** host[:port] that docker/podman use in image names (systeminfo's registry_url, else this page's). */
export function registryHost() {
  const url = session.info.registry_url || session.info.external_url || window.location.origin;
  return String(url).replace(/^https?:\/\//, "").replace(/\/+$/, "");
}
