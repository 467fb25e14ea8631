// Numbers, sizes, times and role names as people read them, in the active language.

import { currentLanguage, t } from "./i18n.js";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 1536 -> "1.5 KiB"; negative (Harbor's "unlimited") -> the word for unlimited. */
export function bytes(value) {
  if (value === undefined || value === null || Number.isNaN(Number(value))) return "—";
  let size = Number(value);
  if (size < 0) return t("common.unlimited");
  let unit = 0;
  while (size >= 1024 && unit < UNITS.length - 1) {
    size /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || size >= 100 ? 0 : size >= 10 ? 1 : 2;
  return `${size.toFixed(digits)} ${UNITS[unit]}`;
}

/** Byte multipliers for quota inputs. */
export const QUOTA_UNITS = [
  { unit: "MiB", factor: 1024 ** 2 },
  { unit: "GiB", factor: 1024 ** 3 },
  { unit: "TiB", factor: 1024 ** 4 },
];

/** An ISO time -> local date and time; empty or Go's zero time -> "—". */
export function dateTime(value) {
  if (!value || String(value).startsWith("0001-01-01")) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "—";
  return date.toLocaleString(currentLanguage(), { dateStyle: "medium", timeStyle: "short" });
}

export function number(value) {
  return new Intl.NumberFormat(currentLanguage()).format(Number(value) || 0);
}

/** A digest shortened for tables: "sha256:0123456789ab". */
export function shortDigest(digest) {
  if (!digest) return "—";
  const [algorithm, hex = ""] = digest.split(":");
  return `${algorithm}:${hex.slice(0, 12)}`;
}

// Harbor's role ids: 1 Project Admin, 2 Developer, 3 Guest, 4 Maintainer, 5 Limited Guest.
export const ROLES = [
  { id: 1, key: "role.projectAdmin" },
  { id: 4, key: "role.maintainer" },
  { id: 2, key: "role.developer" },
  { id: 3, key: "role.guest" },
  { id: 5, key: "role.limitedGuest" },
];

export function roleName(id) {
  const role = ROLES.find((r) => r.id === Number(id));
  return role ? t(role.key) : "—";
}

/** "2024-05-01 10:00:00" in UTC, the time format of Harbor's q ranges. */
export function qTime(date) {
  return date.toISOString().slice(0, 19).replace("T", " ");
}
