// English and Simplified Chinese: t("project.created", {name}) looks a key up in the active
// dictionary and fills its {placeholders}.
//
// Dictionaries are flat JSON files next to this module (i18n/en-US.json, i18n/zh-CN.json).
// The choice is remembered in localStorage per user ("berth.lang.<username>") and for the
// sign-in page ("berth.lang"), so two people sharing a browser each keep their language.

export const LANGUAGES = [
  { code: "en-US", label: "English" },
  { code: "zh-CN", label: "简体中文" },
];
const FALLBACK = "en-US";
const dictionaries = new Map();
let active = FALLBACK;
let user = null;

async function loadDictionary(code) {
  if (!dictionaries.has(code)) {
    const response = await fetch(new URL(`../i18n/${code}.json`, import.meta.url));
    if (!response.ok) throw new Error(`dictionary ${code}: HTTP ${response.status}`);
    dictionaries.set(code, await response.json());
  }
  return dictionaries.get(code);
}

function storageKey(username) {
  return username ? `berth.lang.${username}` : "berth.lang";
}

function remembered(username) {
  try {
    return localStorage.getItem(storageKey(username));
  } catch {
    return null; // storage disabled: fall back to the browser's language
  }
}

function preferred(username) {
  const saved = remembered(username) || (username ? remembered(null) : null);
  if (saved && LANGUAGES.some((lang) => lang.code === saved)) return saved;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh-CN" : FALLBACK;
}

/** Load the language remembered for ``username`` (null before sign-in). */
export async function initLanguage(username = null) {
  user = username;
  await loadDictionary(FALLBACK);
  await useLanguage(preferred(username));
}

async function useLanguage(code) {
  await loadDictionary(code);
  active = code;
  document.documentElement.lang = code;
}

/** Switch language and remember it for the current user. */
export async function setLanguage(code) {
  if (!LANGUAGES.some((lang) => lang.code === code)) return;
  await useLanguage(code);
  try {
    localStorage.setItem(storageKey(user), code);
    if (user) localStorage.setItem(storageKey(null), code);
  } catch {
    /* not remembered, still switched */
  }
}

export function currentLanguage() {
  return active;
}

/** The text for ``key`` with ``{placeholders}`` filled from ``vars``; the key if unknown. */
export function t(key, vars = {}) {
  const text = dictionaries.get(active)?.[key] ?? dictionaries.get(FALLBACK)?.[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
}
