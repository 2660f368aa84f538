// The shapes a config file's parsed YAML must have, checked with messages written for the person
// who edits the file. Small on purpose: the daemon keeps whatever it imports for its whole life,
// and a general-purpose validation library cost it about 12 MiB of its idle memory.

import { closest } from "./_suggest.ts";

/** Keys and list indexes from the top of the file to a value. */
export type Path = readonly (string | number)[];

/** One problem with a value. */
export interface ShapeIssue {
  path: Path;
  /** The whole message, with the offending value described (or hidden) already. */
  message: string;
  /** An unknown key of the mapping at `path`: the problem is at that key, not at a value. */
  key?: string;
  /** The type was right, a rule about the value was not; a union settles on such an option. */
  soft?: boolean;
}

/** What a check needs besides the value: where problems go, and how to show a value. */
export interface CheckContext {
  readonly issues: ShapeIssue[];
  /** The value as a message shows it ("got …"); a value under a secret-looking key is hidden. */
  got(value: unknown, path: Path): string;
}

/** A value that failed its check; its issues are in the context. */
export const INVALID: unique symbol = Symbol("invalid");

/** The result of a check. */
export type Checked<T> = T | typeof INVALID;

/** A rule for one value of the file, producing `T`. */
export abstract class Shape<T> {
  /** What the shape takes, as a reader says it ("a string"), for messages of unions. */
  abstract readonly expects: string;

  /** Checks `value`; on failure, adds issues to `ctx` and returns {@linkcode INVALID}. */
  abstract check(value: unknown, path: Path, ctx: CheckContext): Checked<T>;

  /** The same shape, but a mapping may leave the key out. */
  optional(): Optional<T> {
    return new Optional(this);
  }

  /** Turns a valid value into another; an error thrown by `convert` becomes the issue. */
  map<U>(convert: (value: T) => U): Shape<U> {
    return new Then(this, (value, path, ctx) => {
      try {
        return convert(value);
      } catch (error) {
        ctx.issues.push({ path, message: error instanceof Error ? error.message : String(error) });
        return INVALID;
      }
    });
  }

  /** Checks a valid value's conversion against `next`. */
  pipe<U>(next: Shape<U>): Shape<U> {
    return new Then(this, (value, path, ctx) => next.check(value, path, ctx));
  }
}

/** The output type of a shape. */
export type Output<S> = S extends Shape<infer T> ? T : never;

/** A shape whose key may be missing from its mapping. */
export class Optional<T> extends Shape<T | undefined> {
  readonly isOptional = true;
  readonly inner: Shape<T>;
  readonly expects: string;

  constructor(inner: Shape<T>) {
    super();
    this.inner = inner;
    this.expects = inner.expects;
  }

  check(value: unknown, path: Path, ctx: CheckContext): Checked<T | undefined> {
    return value === undefined ? undefined : this.inner.check(value, path, ctx);
  }
}

/** `from`, then `step` on its valid output: what map() and pipe() build. */
class Then<T, U> extends Shape<U> {
  readonly #from: Shape<T>;
  readonly #step: (value: T, path: Path, ctx: CheckContext) => Checked<U>;
  readonly expects: string;

  constructor(from: Shape<T>, step: (value: T, path: Path, ctx: CheckContext) => Checked<U>) {
    super();
    this.#from = from;
    this.#step = step;
    this.expects = from.expects;
  }

  check(value: unknown, path: Path, ctx: CheckContext): Checked<U> {
    const checked = this.#from.check(value, path, ctx);
    return checked === INVALID ? INVALID : this.#step(checked, path, ctx);
  }
}

function typeIssue(expects: string, value: unknown, path: Path, ctx: CheckContext): typeof INVALID {
  ctx.issues.push({ path, message: `expected ${expects}, got ${ctx.got(value, path)}` });
  return INVALID;
}

/** A rule about a value of the right type; every failing rule is reported. */
type Rule<T> = (value: T, path: Path, ctx: CheckContext) => string | undefined;

abstract class Primitive<T> extends Shape<T> {
  protected readonly rules: readonly Rule<T>[];

  constructor(rules: readonly Rule<T>[]) {
    super();
    this.rules = rules;
  }

  protected abstract accepts(value: unknown): value is T;

  protected withRule(rule: Rule<T>): Rule<T>[] {
    return [...this.rules, rule];
  }

  check(value: unknown, path: Path, ctx: CheckContext): Checked<T> {
    if (!this.accepts(value)) return typeIssue(this.expects, value, path, ctx);
    let ok = true;
    for (const rule of this.rules) {
      const message = rule(value, path, ctx);
      if (message === undefined) continue;
      ctx.issues.push({ path, message, soft: true });
      ok = false;
    }
    return ok ? value : INVALID;
  }
}

/** A string; `nonEmpty` and `matches` add rules. */
export class StringShape extends Primitive<string> {
  readonly expects = "a string";

  protected accepts(value: unknown): value is string {
    return typeof value === "string";
  }

  /** Refuses "" ("must not be empty"). */
  nonEmpty(): StringShape {
    return new StringShape(
      this.withRule((value) => value === "" ? "must not be empty" : undefined),
    );
  }

  /**
   * Refuses what `pattern` does not match. A `message` starting with "expected" says what was
   * wanted ("expected a whole number, got …"); any other says how to fix it.
   */
  matches(pattern: RegExp, message: string): StringShape {
    return new StringShape(this.withRule((value, path, ctx) => {
      if (pattern.test(value)) return undefined;
      return message.startsWith("expected")
        ? `${message}, got ${ctx.got(value, path)}`
        : `invalid value ${ctx.got(value, path)}: ${message}`;
    }));
  }
}

/** A finite number; `whole` refuses fractions, `atLeast`/`atMost`/`positive` bound it. */
export class NumberShape extends Primitive<number> {
  readonly expects: string;
  readonly #whole: boolean;

  constructor(rules: readonly Rule<number>[] = [], whole = false) {
    super(rules);
    this.#whole = whole;
    this.expects = whole ? "a whole number" : "a number";
  }

  protected accepts(value: unknown): value is number {
    return typeof value === "number" && Number.isFinite(value) &&
      (!this.#whole || Number.isInteger(value));
  }

  /** Only whole numbers. */
  whole(): NumberShape {
    return new NumberShape(this.rules, true);
  }

  /** At least `min`. */
  atLeast(min: number): NumberShape {
    return new NumberShape(
      this.withRule((value) => value < min ? `must be at least ${min}` : undefined),
      this.#whole,
    );
  }

  /** At most `max`. */
  atMost(max: number): NumberShape {
    return new NumberShape(
      this.withRule((value) => value > max ? `must be at most ${max}` : undefined),
      this.#whole,
    );
  }

  /** More than 0. */
  positive(): NumberShape {
    return new NumberShape(
      this.withRule((value) => value <= 0 ? "must be more than 0" : undefined),
      this.#whole,
    );
  }
}

class BooleanShape extends Primitive<boolean> {
  readonly expects = "true or false";

  protected accepts(value: unknown): value is boolean {
    return typeof value === "boolean";
  }
}

class UnknownShape extends Shape<unknown> {
  readonly expects = "any value";

  check(value: unknown): unknown {
    return value;
  }
}

/** One of fixed strings. */
class OneOf<V extends string> extends Shape<V> {
  readonly values: readonly V[];
  readonly expects: string;

  constructor(values: readonly V[]) {
    super();
    this.values = values;
    this.expects = `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;
  }

  check(value: unknown, path: Path, ctx: CheckContext): Checked<V> {
    if ((this.values as readonly unknown[]).includes(value)) return value as V;
    ctx.issues.push({ path, message: `must be ${this.expects}, got ${ctx.got(value, path)}` });
    return INVALID;
  }
}

// Not `out[key] =`: a key "__proto__" in the file must stay a key.
function define(out: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

class ListShape<T> extends Shape<T[]> {
  readonly expects = "a list";
  readonly #item: Shape<T>;
  readonly #nonEmpty: boolean;

  constructor(item: Shape<T>, nonEmpty = false) {
    super();
    this.#item = item;
    this.#nonEmpty = nonEmpty;
  }

  /** Refuses `[]` ("must not be empty"). */
  nonEmpty(): ListShape<T> {
    return new ListShape(this.#item, true);
  }

  check(value: unknown, path: Path, ctx: CheckContext): Checked<T[]> {
    if (!Array.isArray(value)) return typeIssue(this.expects, value, path, ctx);
    const out: T[] = [];
    let ok = true;
    for (const [index, item] of value.entries()) {
      const checked = this.#item.check(item, [...path, index], ctx);
      if (checked === INVALID) ok = false;
      else out.push(checked);
    }
    if (this.#nonEmpty && value.length === 0) {
      ctx.issues.push({ path, message: "must not be empty", soft: true });
      ok = false;
    }
    return ok ? out : INVALID;
  }
}

class RecordShape<T> extends Shape<Record<string, T>> {
  readonly expects = "a mapping";
  readonly #value: Shape<T>;

  constructor(value: Shape<T>) {
    super();
    this.#value = value;
  }

  check(value: unknown, path: Path, ctx: CheckContext): Checked<Record<string, T>> {
    if (!isMapping(value)) return typeIssue(this.expects, value, path, ctx);
    const out: Record<string, T> = {};
    let ok = true;
    for (const [key, item] of Object.entries(value)) {
      const checked = this.#value.check(item, [...path, key], ctx);
      if (checked === INVALID) ok = false;
      else define(out, key, checked);
    }
    return ok ? out : INVALID;
  }
}

/** The keys of an object shape and their shapes. */
export type Props = Record<string, Shape<unknown>>;

type Flatten<T> = { [K in keyof T]: T[K] } & unknown;

/** An object shape's output: a key whose shape is optional may be absent. */
export type ObjectOutput<P extends Props> = Flatten<
  & { [K in keyof P as P[K] extends Optional<unknown> ? never : K]: Output<P[K]> }
  & {
    [K in keyof P as P[K] extends Optional<unknown> ? K : never]?: P[K] extends Optional<infer T>
      ? T
      : never;
  }
>;

/** A mapping with the keys of `props` and no others. */
export class ObjectShape<P extends Props> extends Shape<ObjectOutput<P>> {
  readonly expects = "a mapping";
  readonly props: P;

  constructor(props: P) {
    super();
    this.props = props;
  }

  check(value: unknown, path: Path, ctx: CheckContext): Checked<ObjectOutput<P>> {
    if (!isMapping(value)) return typeIssue(this.expects, value, path, ctx);
    const out: Record<string, unknown> = {};
    let ok = true;
    for (const [key, shape] of Object.entries(this.props)) {
      const item = Object.hasOwn(value, key) ? value[key] : undefined;
      if (item === undefined && !(shape instanceof Optional)) {
        ctx.issues.push({ path: [...path, key], message: `missing required key "${key}"` });
        ok = false;
        continue;
      }
      const checked = shape.check(item, [...path, key], ctx);
      if (checked === INVALID) ok = false;
      else if (checked !== undefined) define(out, key, checked);
    }
    const known = Object.keys(this.props);
    const unknown = Object.keys(value).filter((key) => !Object.hasOwn(this.props, key));
    const [first, ...rest] = unknown;
    if (first !== undefined) {
      const hint = closest(first, known);
      const more = rest.length > 0 ? ` (and ${rest.map((k) => `"${k}"`).join(", ")})` : "";
      ctx.issues.push({
        path,
        key: first,
        message: `unknown key "${first}"${more}` +
          (hint ? ` (did you mean "${hint}"?)` : `: known keys are ${known.join(", ")}`),
      });
      ok = false;
    }
    return ok ? out as ObjectOutput<P> : INVALID;
  }
}

/**
 * The first of `options` that takes the value. When none does: the issues of the one option
 * whose type matched (a string too short, a number too big), if exactly one did; otherwise
 * `message` (or the options' types) and the value.
 */
class Union<T> extends Shape<T> {
  readonly #options: readonly Shape<T>[];
  readonly #message: string | undefined;
  readonly expects: string;

  constructor(options: readonly Shape<T>[], message?: string) {
    super();
    this.#options = options;
    this.#message = message;
    this.expects = [...new Set(options.map((option) => option.expects))].join(" or ");
  }

  check(value: unknown, path: Path, ctx: CheckContext): Checked<T> {
    const failed: ShapeIssue[][] = [];
    for (const option of this.#options) {
      const inner: CheckContext = { issues: [], got: ctx.got };
      const checked = option.check(value, path, inner);
      if (checked !== INVALID) return checked;
      failed.push(inner.issues);
    }
    const typeMatched = failed.filter((issues) => issues.every((issue) => issue.soft));
    if (typeMatched.length === 1) {
      ctx.issues.push(...typeMatched[0]!);
      return INVALID;
    }
    ctx.issues.push({
      path,
      message: `${this.#message ?? `expected ${this.expects}`}, got ${ctx.got(value, path)}`,
    });
    return INVALID;
  }
}

/** Mappings told apart by the value of one key (`type: s3`), each option naming its value. */
class Tagged<O extends ObjectShape<Props>> extends Shape<Output<O>> {
  readonly expects = "a mapping";
  readonly #key: string;
  readonly #options = new Map<string, O>();

  constructor(key: string, options: readonly O[]) {
    super();
    this.#key = key;
    for (const option of options) {
      const tag = option.props[key];
      if (!(tag instanceof OneOf) || tag.values.length !== 1) {
        throw new TypeError(`each option needs "${key}: literal(…)"`);
      }
      this.#options.set(tag.values[0], option);
    }
  }

  check(value: unknown, path: Path, ctx: CheckContext): Checked<Output<O>> {
    if (!isMapping(value)) return typeIssue(this.expects, value, path, ctx);
    const tag = Object.hasOwn(value, this.#key) ? value[this.#key] : undefined;
    const option = typeof tag === "string" ? this.#options.get(tag) : undefined;
    if (option) return option.check(value, path, ctx) as Checked<Output<O>>;
    const at = [...path, this.#key];
    const values = [...this.#options.keys()].map((v) => JSON.stringify(v)).join(", ");
    ctx.issues.push({
      path: at,
      message: tag === undefined
        ? `missing required key "${this.#key}": use one of ${values}`
        : `must be one of ${values}, got ${ctx.got(tag, at)}`,
    });
    return INVALID;
  }
}

/** A string. */
export function string(): StringShape {
  return new StringShape([]);
}

/** A number (finite). */
export function number(): NumberShape {
  return new NumberShape();
}

/** `true` or `false`. */
export function boolean(): Shape<boolean> {
  return new BooleanShape([]);
}

/** Any value, unchecked. */
export function unknown(): Shape<unknown> {
  return new UnknownShape();
}

/** One of `values`. */
export function oneOf<const V extends string>(values: readonly V[]): Shape<V> {
  return new OneOf(values);
}

/** A list of `item`. */
export function list<T>(item: Shape<T>): ListShape<T> {
  return new ListShape(item);
}

/** A mapping from any key to `value`. */
export function record<T>(value: Shape<T>): Shape<Record<string, T>> {
  return new RecordShape(value);
}

/** A mapping with exactly the keys of `props` (those not optional are required). */
export function object<P extends Props>(props: P): ObjectShape<P> {
  return new ObjectShape(props);
}

/** The first of `options` that takes the value; `message` says what was expected. */
export function union<T>(options: readonly Shape<T>[], message?: string): Shape<T> {
  return new Union(options, message);
}

/** Exactly `value`. */
export function literal<const V extends string>(value: V): Shape<V> {
  return new OneOf([value]);
}

/**
 * A mapping whose `key` says which of `options` it is; each option has `key: literal(NAME)`:
 * `tagged("type", [object({ type: literal("s3"), … }), object({ type: literal("local"), … })])`.
 */
export function tagged<O extends ObjectShape<Props>>(key: string, options: readonly O[]): Shape<
  Output<O>
> {
  return new Tagged(key, options);
}

/** Checks `value` against `shape`: its output, or every issue found. */
export function checkShape<T>(
  shape: Shape<T>,
  value: unknown,
  got: CheckContext["got"],
): { ok: true; value: T } | { ok: false; issues: ShapeIssue[] } {
  const ctx: CheckContext = { issues: [], got };
  const checked = shape.check(value, [], ctx);
  return checked === INVALID || ctx.issues.length > 0
    ? { ok: false, issues: ctx.issues }
    : { ok: true, value: checked };
}
