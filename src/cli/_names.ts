import { closest } from "../config/mod.ts";

/** A " (did you mean …?)" or ": jobs are …" tail for an unknown job name. */
export function closestName(name: string, names: readonly string[]): string {
  const hint = closest(name, names);
  if (hint) return ` (did you mean "${hint}"?)`;
  return names.length > 0 ? `: jobs are ${names.map((n) => `"${n}"`).join(", ")}` : "";
}
