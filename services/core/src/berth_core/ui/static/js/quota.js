// The storage-quota input shared by "new project" and project settings: a number and a unit,
// where -1 means unlimited, as Harbor's storage_limit.

import { h } from "./dom.js";
import { QUOTA_UNITS } from "./format.js";
import { t } from "./i18n.js";

const MAX_BYTES = 1024 ** 5; // 1024 TiB, Harbor's upper bound for a project quota

/** Split bytes into the largest whole unit for display: {amount, unit}. */
export function splitBytes(value) {
  if (value === undefined || value === null || Number(value) < 0) return { amount: -1, unit: "GiB" };
  for (const { unit, factor } of [...QUOTA_UNITS].reverse()) {
    if (Number(value) % factor === 0 && Number(value) >= factor) return { amount: Number(value) / factor, unit };
  }
  return { amount: Math.round((Number(value) / 1024 ** 2) * 100) / 100, unit: "MiB" };
}

/**
 * A form field spec for a quota plus its unit select. Returns {spec, toBytes(amount)} where
 * toBytes reads the unit chosen next to the number.
 */
export function quotaField({ name = "storage_limit", value = -1, label = t("quota.label") } = {}) {
  const { amount, unit } = splitBytes(value);
  const unitSelect = h("select", { class: "unit-select", "aria-label": t("quota.unit") }, QUOTA_UNITS.map((u) => h("option", { value: u.unit, selected: u.unit === unit }, u.unit)));
  const factor = () => QUOTA_UNITS.find((u) => u.unit === unitSelect.value).factor;
  const spec = {
    name,
    label,
    type: "number",
    value: String(amount),
    step: "any",
    required: true,
    hint: t("quota.hint"),
    suffix: unitSelect,
    serverMatch: ["quota", "storage", "limit"],
    validate: (raw) => {
      const number = Number(raw);
      if (raw === "" || Number.isNaN(number)) return t("validation.number");
      if (number === -1) return null;
      if (number <= 0) return t("quota.invalid");
      if (number * factor() > MAX_BYTES) return t("quota.tooLarge");
      return null;
    },
  };
  return {
    spec,
    toBytes: (raw) => (Number(raw) === -1 ? -1 : Math.round(Number(raw) * factor())),
  };
}
