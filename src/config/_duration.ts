const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses a duration such as `30s`, `2h`, `7d` or `1h30m` into milliseconds. Units: ms, s, m,
 * h, d (24 h), w (7 d). A bare `0` is zero.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  const pattern = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of trimmed.matchAll(pattern)) {
    total += Number(match[1]) * UNITS[match[2]!]!;
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw new RangeError(
      `Invalid duration "${text}": use a number with a unit (ms, s, m, h, d, w), e.g. "30s", "2h", "1h30m", "7d"`,
    );
  }
  return Math.round(total);
}

/** Formats milliseconds the way {@linkcode parseDuration} reads them, e.g. `1h30m`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = ms;
  let out = "";
  for (
    const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const
  ) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Parses a byte size such as `16MiB`, `5MB`, `1.5GiB` or `1048576`. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = SIZE_UNITS[match?.[2]?.toLowerCase() ?? "?"];
  if (!match || unit === undefined) {
    throw new RangeError(
      `Invalid size "${text}": use a number with a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. "16MiB"`,
    );
  }
  return Math.round(Number(match[1]) * unit);
}
