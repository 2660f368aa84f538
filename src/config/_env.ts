/** Why a `${…}` reference could not be expanded. */
export class EnvExpansionError extends RangeError {}

/**
 * Expands `${VAR}`, `${VAR:-default}` and `${VAR:?message}` in `text` from `env`. `$$` stands
 * for a literal `$`. A reference to an unset variable without a default is an error, so a
 * missing secret never turns silently into an empty password.
 */
export function expandEnv(
  text: string,
  env: (name: string) => string | undefined,
  onUse?: (name: string, value: string) => void,
): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}|\$\{([^}]*)\}?/g,
    (whole, name: string | undefined, op: string | undefined, arg: string | undefined) => {
      if (whole === "$$") return "$";
      if (name === undefined) {
        throw new EnvExpansionError(
          `invalid variable reference "${whole}": write \${NAME}, \${NAME:-default} or \${NAME:?message}`,
        );
      }
      const value = env(name);
      if (value !== undefined) onUse?.(name, value);
      const empty = value === undefined || (op?.startsWith(":") && value === "");
      if (op === undefined) {
        if (value === undefined) {
          throw new EnvExpansionError(
            `environment variable "${name}" is not set: set it, or write \${${name}:-default}`,
          );
        }
        return value;
      }
      if (!empty) return value!;
      if (op.endsWith("-")) return expandEnv(arg ?? "", env, onUse);
      throw new EnvExpansionError(
        `environment variable "${name}" is not set: ${arg || "it is required"}`,
      );
    },
  );
}
