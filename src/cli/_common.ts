// deno-lint-ignore-file no-console
import { closest, type Config, loadConfig } from "../config/mod.ts";
import { createLogger, createRedactor, type LogFormat, type Logger } from "../log/mod.ts";

/** Exit codes: the contract scripts rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A wrong command line: printed with a hint and exit code 2. */
export class UsageError extends Error {
  /** `command` names the subcommand whose --help to suggest. */
  constructor(message: string, readonly command = "") {
    super(message);
    this.name = "UsageError";
  }
}

/** The version of snapcron, from deno.json at build time. */
export const VERSION = "0.1.0";

/** One flag of a command: `--name VALUE` (`string`) or `--name` (`boolean`), and `-x` if `short`. */
export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
}

/** What {@linkcode parseFlags} returns for flags `O`: each value, undefined when not given. */
export interface ParsedFlags<O extends Record<string, FlagSpec>> {
  values: { [K in keyof O]: (O[K]["type"] extends "string" ? string : boolean) | undefined };
  positionals: string[];
}

/**
 * Parses a command's arguments: `--name VALUE`, `--name=VALUE`, `-x VALUE`, `-xVALUE`, grouped
 * short booleans (`-hn`) and `--` before arguments that start with "-". The last of a repeated
 * flag wins. A problem is a {@linkcode UsageError} that names the flag and the fix; with
 * `positionals: false`, a stray argument is one too.
 */
export function parseFlags<const O extends Record<string, FlagSpec>>(
  command: string,
  args: string[],
  options: O,
  positionals = true,
): ParsedFlags<O> {
  const values: Record<string, string | boolean | undefined> = {};
  const rest: string[] = [];
  const fail = (message: string) => new UsageError(message, command);
  const unknown = (flag: string) => {
    const known = Object.keys(options).map((name) => `--${name}`);
    const hint = flag.startsWith("--") ? closest(flag, known) : undefined;
    return fail(
      `Unknown flag "${flag}"` +
        (hint ? ` (did you mean "${hint}"?)` : `: use ${known.join(", ")}`),
    );
  };
  // Takes the value of string flag `name` (written `flag`) from the next argument.
  let index = 0;
  const next = (name: string, flag: string) => {
    const value = args[index + 1];
    if (value === undefined) throw fail(`Flag "${flag}" needs a value`);
    if (value.length > 1 && value.startsWith("-")) {
      throw fail(
        `Flag "${flag}" needs a value, but the next argument is a flag: ` +
          `write --${name}=VALUE when the value starts with "-"`,
      );
    }
    index++;
    return value;
  };
  for (; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === "--") {
      rest.push(...args.slice(index + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const equals = arg.indexOf("=");
      const flag = equals === -1 ? arg : arg.slice(0, equals);
      const name = flag.slice(2);
      const spec = Object.hasOwn(options, name) ? options[name] : undefined;
      if (spec === undefined) throw unknown(flag);
      if (spec.type === "boolean") {
        if (equals !== -1) throw fail(`Flag "${flag}" takes no value`);
        values[name] = true;
      } else {
        values[name] = equals === -1 ? next(name, flag) : arg.slice(equals + 1);
      }
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      for (let at = 1; at < arg.length; at++) {
        const flag = `-${arg[at]}`;
        const name = Object.keys(options).find((key) => options[key]!.short === arg[at]);
        if (name === undefined) throw unknown(flag);
        if (options[name]!.type === "boolean") {
          values[name] = true;
          continue;
        }
        // A string flag takes the rest of the group as its value, or the next argument.
        values[name] = at + 1 < arg.length ? arg.slice(at + 1) : next(name, flag);
        break;
      }
      continue;
    }
    rest.push(arg);
  }
  if (!positionals && rest.length > 0) {
    throw fail(`Unexpected argument "${rest[0]}": snapcron ${command} takes flags only`);
  }
  return { values: values as ParsedFlags<O>["values"], positionals: rest };
}

/** The config file to use: `--config`, then `$SNAPCRON_CONFIG`, then `./snapcron.yaml`. */
export function configPath(flag: string | undefined): string {
  return flag ?? Deno.env.get("SNAPCRON_CONFIG") ?? "snapcron.yaml";
}

/** Loads the config named by the flags. */
export function loadConfigFrom(flag: string | undefined): Promise<Config> {
  return loadConfig(configPath(flag));
}

/** Checks a --log-format value. */
export function logFormat(value: string | undefined, fallback: LogFormat): LogFormat {
  if (value === undefined) return fallback;
  if (value !== "text" && value !== "json") {
    throw new UsageError(`Invalid --log-format "${value}": use "text" or "json"`);
  }
  return value;
}

/** A logger to standard error configured from the config and flags. */
export function makeLogger(
  config: Pick<Config, "log" | "secrets"> | undefined,
  format: LogFormat | undefined,
): Logger {
  return createLogger({
    format: format ?? config?.log.format ?? "text",
    level: config?.log.level ?? "info",
    redact: createRedactor(config?.secrets ?? []),
  });
}

/** Prints to standard output. */
export function print(text: string): void {
  console.log(text);
}

/** Prints to standard error. */
export function printError(text: string): void {
  console.error(text);
}
