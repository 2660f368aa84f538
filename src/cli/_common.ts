// deno-lint-ignore-file no-console
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
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

/** What {@linkcode parseFlags} returns for options `O`. */
export type ParsedFlags<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

/**
 * Parses argv with node:util's parseArgs, turning its errors into {@linkcode UsageError};
 * with `positionals: false`, a stray argument is an error too.
 */
export function parseFlags<const O extends ParseArgsOptionsConfig>(
  command: string,
  args: string[],
  options: O,
  positionals = true,
): ParsedFlags<O> {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(flagProblem(error as Error & { code?: string }, options), command);
  }
  if (!positionals && parsed.positionals.length > 0) {
    throw new UsageError(
      `Unexpected argument "${parsed.positionals[0]}": snapcron ${command} takes flags only`,
      command,
    );
  }
  return parsed;
}

/** parseArgs' error in one line that names the flag and the fix. */
function flagProblem(error: Error & { code?: string }, options: ParseArgsOptionsConfig): string {
  const known = Object.keys(options).map((name) => `--${name}`);
  const quoted = /'([^']*)'/.exec(error.message)?.[1] ?? "";
  const flag = /--[\w-]+/.exec(quoted)?.[0] ?? quoted.split(",")[0]!;
  if (error.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const hint = flag.startsWith("--") ? closest(flag, known) : undefined;
    return `Unknown flag "${flag}"` +
      (hint ? ` (did you mean "${hint}"?)` : `: use ${known.join(", ")}`);
  }
  if (/argument missing/.test(error.message)) return `Flag "${flag}" needs a value`;
  if (/does not take an argument/.test(error.message)) return `Flag "${flag}" takes no value`;
  if (/argument is ambiguous/.test(error.message)) {
    const long = flag.startsWith("--")
      ? flag
      : `--${Object.entries(options).find(([, option]) => `-${option.short}` === flag)?.[0]}`;
    return `Flag "${flag}" needs a value, but the next argument is a flag: ` +
      `write ${long}=VALUE when the value starts with "-"`;
  }
  return error.message.split("\n")[0]!.replace(/\.$/, "");
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
