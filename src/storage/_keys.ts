/**
 * Keys are the same for every storage: relative, `/`-separated, no empty, `.` or `..` segment,
 * no backslash or control character. A key valid for S3 is then also a safe path below a
 * directory, so a config can move between the two.
 */

/** S3's limit on a key, in UTF-8 bytes, prefix included. */
const MAX_KEY_BYTES = 1024;

// Control characters (NUL included) make unreadable file names and log lines.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why `key` is not a valid key, or `undefined` when it is. */
export function keyProblem(key: string): string | undefined {
  if (typeof key !== "string") return "a key must be a string";
  if (key === "") return "a key must not be empty";
  return pathProblem(key, false);
}

/** Why `prefix` is not a valid list prefix, or `undefined`; `""` and a trailing `/` are fine. */
export function prefixProblem(prefix: string): string | undefined {
  if (typeof prefix !== "string") return "a prefix must be a string";
  if (prefix === "") return undefined;
  return pathProblem(prefix, true);
}

function pathProblem(path: string, trailingSlash: boolean): string | undefined {
  if (CONTROL.test(path)) return "it contains a NUL or control character";
  if (path.includes("\\")) return 'it contains a backslash: separate folders with "/"';
  if (path.startsWith("/")) return 'it is absolute: drop the leading "/"';
  if (new TextEncoder().encode(path).length > MAX_KEY_BYTES) {
    return `it is longer than ${MAX_KEY_BYTES} bytes`;
  }
  const segments = path.split("/");
  if (trailingSlash && segments.at(-1) === "") segments.pop();
  for (const segment of segments) {
    if (segment === "") return 'it contains an empty folder name ("//" or a trailing "/")';
    if (segment === "." || segment === "..") {
      return `it contains a "${segment}" segment: use a key relative to the storage`;
    }
  }
  return undefined;
}

/**
 * Normalizes a storage prefix (an S3 prefix or nothing) to `""` or `a/b/`: leading and
 * trailing slashes are dropped, then one `/` is appended. Throws RangeError when invalid.
 */
export function normalizePrefix(prefix: string | undefined, label: string): string {
  const trimmed = (prefix ?? "").replace(/^\/+|\/+$/g, "");
  if (trimmed === "") return "";
  const problem = keyProblem(trimmed);
  if (problem !== undefined) throw new RangeError(`Invalid ${label} "${trimmed}": ${problem}`);
  return `${trimmed}/`;
}
