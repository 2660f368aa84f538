// Go's time.ParseDuration grammar, `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, so that `@every` and any
// duration flag kept from go-cron read exactly as they did there.

const NANOS_PER_UNIT: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  "\u00b5s": 1_000n, // micro sign, accepted by Go
  "\u03bcs": 1_000n, // Greek mu, accepted by Go
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

// Go stores a duration in an int64 of nanoseconds.
const MAX_NANOS = (1n << 63n) - 1n;
const NANOS_PER_MS = 1_000_000n;
// Go stops reading fraction digits once more would overflow; 18 digits are plenty.
const MAX_FRACTION_DIGITS = 18;

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

function fail(text: string, reason: string): never {
  throw new RangeError(`Invalid duration ${JSON.stringify(text)}: ${reason}`);
}

/**
 * Parses a Go duration such as `90s`, `1h30m`, `1.5h` or `300ms` into milliseconds (fractional
 * below 1 ms), throwing a `RangeError` for text Go's `time.ParseDuration` would reject.
 */
export function parseGoDuration(text: string): number {
  let rest = text;
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest.startsWith("-");
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") {
    fail(text, text === "" ? "the text is empty" : "a number must follow the sign");
  }
  let total = 0n;
  while (rest !== "") {
    if (!(rest[0] === "." || isDigit(rest[0]))) {
      fail(text, `expected a number at ${JSON.stringify(rest)}`);
    }
    let i = 0;
    while (isDigit(rest[i])) i++;
    const whole = rest.slice(0, i);
    rest = rest.slice(i);
    let fraction = "";
    if (rest.startsWith(".")) {
      let j = 1;
      while (isDigit(rest[j])) j++;
      fraction = rest.slice(1, j);
      rest = rest.slice(j);
    }
    if (whole === "" && fraction === "") fail(text, "a number has no digits");
    let k = 0;
    while (k < rest.length && rest[k] !== "." && !isDigit(rest[k])) k++;
    const unitText = rest.slice(0, k);
    rest = rest.slice(k);
    if (unitText === "") {
      fail(
        text,
        `missing unit after ${whole}${fraction ? "." + fraction : ""} (for example "10s")`,
      );
    }
    const unit = NANOS_PER_UNIT[unitText];
    if (unit === undefined) {
      fail(text, `unknown unit ${JSON.stringify(unitText)} (use ns, us, ms, s, m or h)`);
    }
    let nanos = BigInt(whole === "" ? "0" : whole) * unit;
    const digits = fraction.slice(0, MAX_FRACTION_DIGITS);
    if (digits !== "") nanos += (BigInt(digits) * unit) / 10n ** BigInt(digits.length);
    total += nanos;
    // Go allows exactly -2^63 ns but not +2^63 ns.
    if (total > MAX_NANOS + (negative ? 1n : 0n)) {
      fail(text, "out of range (at most about 292 years)");
    }
  }
  const wholeMs = total / NANOS_PER_MS;
  const ms = Number(wholeMs) + Number(total - wholeMs * NANOS_PER_MS) / 1e6;
  return negative ? -ms : ms;
}
