// The REST client: fetch with the session cookie, the CSRF header on writes, and the error
// envelope turned into an ApiError whose message is the server's own.
//
// Every action of the UI goes through here to the Harbor-compatible API, so the server's
// permission checks decide everything; the UI only hides what it knows the user cannot do.

import { t } from "./i18n.js";

export const API = "/api/v2.0";
const CSRF_HEADER = "X-Harbor-CSRF-Token";
const CSRF_COOKIE = "__csrf";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

let csrfFromHeader = null;
let unauthorizedHandler = null;

/** An API call that failed: HTTP status, Harbor error code and the server's message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Called with the ApiError when a request gets 401 (the session ended or never existed). */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

function readCookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

function csrfToken() {
  return readCookie(CSRF_COOKIE) || csrfFromHeader;
}

/** Whether this browser may hold a session: sign-in sets the readable CSRF cookie next to the
 * (HttpOnly) session cookie, so without it there is no session worth asking about. */
export function mayHaveSession() {
  return readCookie(CSRF_COOKIE) !== null;
}

function buildUrl(path, query) {
  const url = new URL(path.startsWith("/c/") || path.startsWith("/api/") ? path : API + path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  return url.pathname + url.search;
}

async function errorFrom(response) {
  let message = "";
  let code = "";
  try {
    const body = await response.json();
    const errors = Array.isArray(body?.errors) ? body.errors : [];
    message = errors.map((e) => e.message).filter(Boolean).join("; ");
    code = errors[0]?.code || "";
  } catch {
    /* not the envelope: fall back to a generic message below */
  }
  if (!message) {
    message = response.status >= 500 ? t("error.server", { status: response.status }) : t("error.http", { status: response.status });
  }
  return new ApiError(response.status, code, message);
}

/**
 * One request. Options: query (object), body (JSON), form (object sent as a form), headers,
 * text (return the body as text), allow401 (do not treat 401 as an ended session).
 * Returns {data, response}; throws ApiError.
 */
export async function request(method, path, options = {}) {
  // X-Requested-With: the server then answers 401 without a Basic challenge, which would make
  // the browser open its own password dialog instead of letting this app show its sign-in page.
  const headers = { Accept: "application/json", "X-Requested-With": "XMLHttpRequest", ...(options.headers || {}) };
  let body;
  if (options.form) {
    body = new URLSearchParams(options.form);
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["Content-Type"] = "application/json";
  }
  if (!SAFE_METHODS.has(method)) {
    const token = csrfToken();
    if (token) headers[CSRF_HEADER] = token;
  }
  let response;
  try {
    response = await fetch(buildUrl(path, options.query), { method, headers, body, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "NETWORK", t("error.network"));
  }
  const token = response.headers.get(CSRF_HEADER);
  if (token) csrfFromHeader = token;
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && !options.allow401 && unauthorizedHandler) unauthorizedHandler(error);
    throw error;
  }
  let data = null;
  if (options.text) {
    data = await response.text();
  } else if (response.status !== 204 && (response.headers.get("Content-Type") || "").includes("json")) {
    data = await response.json();
  }
  return { data, response };
}

export async function get(path, query, options = {}) {
  return (await request("GET", path, { ...options, query })).data;
}

export async function post(path, body, options = {}) {
  return (await request("POST", path, { ...options, body })).data;
}

export async function put(path, body, options = {}) {
  return (await request("PUT", path, { ...options, body })).data;
}

export async function patch(path, body, options = {}) {
  return (await request("PATCH", path, { ...options, body })).data;
}

export async function del(path, options = {}) {
  return (await request("DELETE", path, options)).data;
}

/** A page of a Harbor list: {items, total} with total from X-Total-Count. */
export async function list(path, query = {}, options = {}) {
  const { data, response } = await request("GET", path, { ...options, query });
  const items = Array.isArray(data) ? data : [];
  const header = response.headers.get("X-Total-Count");
  return { items, total: header === null ? items.length : Number(header) };
}

/** Harbor's repository path segment: the name without the project, URL-encoded twice. */
export function repoPath(projectName, repositoryName) {
  const short = repositoryName.startsWith(`${projectName}/`) ? repositoryName.slice(projectName.length + 1) : repositoryName;
  return encodeURIComponent(encodeURIComponent(short));
}

/** One q condition matching ``text`` as a substring ("key=~text"), quoted so that commas,
 * brackets and spaces typed in a search box stay part of the value. Empty text -> "". */
export function fuzzy(key, text) {
  const value = String(text || "").replace(/["']/g, "").trim();
  return value ? `${key}=~"${value}"` : "";
}

/** Every item of a Harbor list (for small lists the API cannot sort), up to ``limit``. */
export async function listAll(path, query = {}, limit = 1000) {
  const items = [];
  for (let page = 1; items.length < limit; page += 1) {
    const batch = await list(path, { ...query, page, page_size: 100 });
    items.push(...batch.items);
    if (batch.items.length < 100 || items.length >= batch.total) break;
  }
  return items.slice(0, limit);
}
