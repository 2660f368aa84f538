/**
 * Snapshot names: the server's rules checked before a request is sent, date-math names
 * (`<nightly-{now/d}>`) checked on their static parts, URL encoding, and strftime-like templates
 * as the alternative to date math.
 */

const MAX_NAME_BYTES = 255;
/** Characters Elasticsearch refuses in snapshot names (besides whitespace). */
const FORBIDDEN = [",", "#", "\\", "/", "*", "?", '"', "<", ">", "|"];
/** Rounding and offset units of date math. */
const MATH_UNIT = "[yMwdhHms]";
const MATH_EXPRESSION = new RegExp(`^now(?:[+-]\\d+${MATH_UNIT})*(?:/${MATH_UNIT})?$`);
/**
 * Java date-format letters that print digits only; text fields (`MMM`, `EEE`, `a`, zone names)
 * would put capitals or spaces into the name, which the server then refuses.
 */
const FORMAT_LETTERS = /^[yYuMdDHhkKmsSwWen]$/;
const ZONE = /^[A-Za-z0-9/_+:-]+$/;
/** Length of the default format `yyyy.MM.dd`, for the length estimate. */
const DEFAULT_FORMAT_LENGTH = 10;

const encoder = new TextEncoder();

/** True when `name` is a date-math expression such as `<nightly-{now/d}>`. */
export function isDateMathName(name: string): boolean {
  return name.startsWith("<") && name.endsWith(">") && name.length >= 2;
}

/**
 * Throws a `RangeError` when the server would refuse `name` as a snapshot name: empty, over
 * 255 bytes, capitals, whitespace, one of `, # \ / * ? " < > |`, a leading `_` or `-`, or `.`/`..`.
 * A date-math name is checked on its static parts and the shape of each `{…}` expression.
 */
export function validateSnapshotName(name: string): void {
  if (typeof name !== "string") throw new TypeError("Snapshot name must be a string");
  const problem = isDateMathName(name) ? dateMathProblem(name) : plainProblem(name, "full");
  if (problem !== undefined) {
    throw new RangeError(`Invalid snapshot name "${name}": ${problem}`);
  }
}

/** Where a piece of text sits in the name: rules on the first character apply at the start only. */
type Position = "full" | "start" | "middle";

function plainProblem(text: string, position: Position): string | undefined {
  if (position === "full") {
    if (text === "") return "must not be empty";
    if (text === "." || text === "..") return 'must not be "." or ".."';
    const bytes = encoder.encode(text).length;
    if (bytes > MAX_NAME_BYTES) {
      return `must be at most ${MAX_NAME_BYTES} bytes, not ${bytes}`;
    }
  }
  if (text !== text.toLowerCase()) return "must be lowercase";
  if (/\s/.test(text)) return "must not contain whitespace";
  const bad = FORBIDDEN.find((char) => text.includes(char));
  if (bad !== undefined) return `must not contain "${bad}" (nor any of , # \\ / * ? " < > |)`;
  if (position !== "middle" && (text.startsWith("_") || text.startsWith("-"))) {
    return 'must not start with "_" or "-"';
  }
  return undefined;
}

/** One piece of a date-math name: literal text, or a `{…}` expression. */
type Piece = { kind: "text"; text: string } | {
  kind: "math";
  math: string;
  format?: string;
  zone?: string;
};

function dateMathProblem(name: string): string | undefined {
  const pieces = parseDateMath(name.slice(1, -1));
  if (typeof pieces === "string") return pieces;
  let estimate = 0;
  for (const [index, piece] of pieces.entries()) {
    if (piece.kind === "text") {
      const problem = plainProblem(piece.text, index === 0 ? "start" : "middle");
      if (problem !== undefined) return `static part "${piece.text}" ${problem}`;
      estimate += encoder.encode(piece.text).length;
      continue;
    }
    const problem = mathProblem(piece);
    if (problem !== undefined) return problem;
    estimate += piece.format?.replace(/'/g, "").length ?? DEFAULT_FORMAT_LENGTH;
  }
  if (estimate === 0) return "resolves to an empty name";
  if (estimate > MAX_NAME_BYTES) {
    return `resolves to about ${estimate} bytes, more than ${MAX_NAME_BYTES}`;
  }
  return undefined;
}

function mathProblem(piece: Extract<Piece, { kind: "math" }>): string | undefined {
  if (!MATH_EXPRESSION.test(piece.math)) {
    return `date math "{${piece.math}}" must look like "{now/d}" or "{now-1d/d}"`;
  }
  if (piece.format !== undefined) {
    const problem = formatProblem(piece.format);
    if (problem !== undefined) return `date format "${piece.format}" ${problem}`;
  }
  if (piece.zone !== undefined && !ZONE.test(piece.zone)) {
    return `time zone "${piece.zone}" must look like "+01:00" or "Europe/Paris"`;
  }
  return undefined;
}

function formatProblem(format: string): string | undefined {
  if (format === "") return "must not be empty";
  let quoted = false;
  for (let i = 0; i < format.length; i++) {
    const char = format[i] ?? "";
    if (char === "'") {
      quoted = !quoted;
      continue;
    }
    if (quoted) {
      const problem = plainProblem(char, "middle");
      if (problem !== undefined) return `quoted text ${problem}`;
      continue;
    }
    if (char === "." || char === "-" || char === "_" || /\d/.test(char)) continue;
    if (!FORMAT_LETTERS.test(char)) {
      return `uses "${char}", which prints letters or spaces ` +
        "(use digits-only fields such as yyyy.MM.dd)";
    }
    if (char === "M" && format.slice(i, i + 3) === "MMM") {
      return 'uses "MMM", which prints a capitalised month name (use "MM")';
    }
  }
  return quoted ? "has an unclosed quote" : undefined;
}

/** Splits the inside of `<…>` into text and `{math{format|zone}}` pieces, or says what fails. */
function parseDateMath(inner: string): Piece[] | string {
  const pieces: Piece[] = [];
  let text = "";
  let i = 0;
  while (i < inner.length) {
    const char = inner[i] ?? "";
    if (char === "\\") {
      const next = inner[i + 1];
      if (next !== "{" && next !== "}" && next !== "\\") {
        return 'a "\\" may only escape "{", "}" or "\\"';
      }
      text += next;
      i += 2;
      continue;
    }
    if (char === "}") return 'has a "}" without its "{"';
    if (char !== "{") {
      text += char;
      i++;
      continue;
    }
    const end = closingBrace(inner, i);
    if (end < 0) return 'has a "{" without its "}"';
    if (text !== "") pieces.push({ kind: "text", text });
    text = "";
    const piece = parseMath(inner.slice(i + 1, end));
    if (typeof piece === "string") return piece;
    pieces.push(piece);
    i = end + 1;
  }
  if (text !== "") pieces.push({ kind: "text", text });
  return pieces;
}

function closingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return i;
  }
  return -1;
}

function parseMath(body: string): Extract<Piece, { kind: "math" }> | string {
  const open = body.indexOf("{");
  if (open < 0) return { kind: "math", math: body };
  if (!body.endsWith("}")) return `date math "{${body}}" has text after its format`;
  const math = body.slice(0, open);
  const spec = body.slice(open + 1, -1);
  if (spec.includes("{") || spec.includes("}")) return `date math "{${body}}" nests too deep`;
  const bar = spec.indexOf("|");
  if (bar < 0) return { kind: "math", math, format: spec };
  return { kind: "math", math, format: spec.slice(0, bar), zone: spec.slice(bar + 1) };
}

/**
 * Percent-encodes a snapshot name for a URL path. Date math must be encoded (`<`, `>`, `{`,
 * `}`, `/`, `|`, `+`, `:` and `,` all are), or the server reads the `/` as a path separator.
 */
export function encodeSnapshotName(name: string): string {
  return encodeURIComponent(name);
}

/**
 * A pattern matching what a date-math name resolves to (`<nightly-{now/d}>` → `nightly-*`), to
 * find the snapshot again: the server does not resolve date math when reading snapshots.
 */
export function dateMathWildcard(name: string): string {
  const pieces = parseDateMath(name.slice(1, -1));
  if (typeof pieces === "string") {
    throw new RangeError(`Invalid snapshot name "${name}": ${pieces}`);
  }
  return pieces.map((piece) => piece.kind === "text" ? piece.text : "*").join("")
    .replace(/\*+/g, "*");
}

/**
 * Renders a strftime-like name template in UTC: `{job}` is the job name, `%Y %m %d %H %M %S`
 * the date fields, `%y` the two-digit year, `%j` the day of the year, `%s` Unix seconds and
 * `%%` a percent sign. Throws a `RangeError` for an unknown field or a name the server would
 * refuse.
 */
export function renderNameTemplate(template: string, date: Date, job: string): string {
  if (Number.isNaN(date.getTime())) {
    throw new RangeError("Cannot render a snapshot name: invalid date");
  }
  const pad = (value: number, width = 2): string => String(value).padStart(width, "0");
  const fields: Record<string, () => string> = {
    Y: () => pad(date.getUTCFullYear(), 4),
    y: () => pad(date.getUTCFullYear() % 100),
    m: () => pad(date.getUTCMonth() + 1),
    d: () => pad(date.getUTCDate()),
    H: () => pad(date.getUTCHours()),
    M: () => pad(date.getUTCMinutes()),
    S: () => pad(date.getUTCSeconds()),
    j: () => pad(dayOfYear(date), 3),
    s: () => String(Math.floor(date.getTime() / 1000)),
    "%": () => "%",
  };
  const rendered = template.replace(/\{job\}|%(.?)/g, (match, field: string | undefined) => {
    if (match === "{job}") return job;
    const render = field === undefined ? undefined : fields[field];
    if (render === undefined) {
      throw new RangeError(
        `Cannot render snapshot name template "${template}": unknown field "${match}" ` +
          "(use %Y %m %d %H %M %S %y %j %s %% or {job})",
      );
    }
    return render();
  });
  try {
    validateSnapshotName(rendered);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new RangeError(
      `Snapshot name template "${template}" renders an invalid name: ${detail}`,
      {
        cause: error,
      },
    );
  }
  return rendered;
}

function dayOfYear(date: Date): number {
  const start = Date.UTC(date.getUTCFullYear(), 0, 1);
  return Math.floor((date.getTime() - start) / 86_400_000) + 1;
}
