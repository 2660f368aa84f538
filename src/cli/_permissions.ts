import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";

/** What a config needs of the permissions `run` starts with. */
export function neededPermissions(config: Config): { run: boolean; write: boolean } {
  const localStorages = Object.values(config.storage).some((storage) => storage.type === "local");
  return {
    run: config.jobs.some((job) => job.kind === "command"),
    write: localStorages || config.status.stateFile !== undefined,
  };
}

/**
 * Gives up, for the life of the process, the permissions the config does not need: no command
 * jobs, no running programs; no local storage and no state file, no writing. A reload that
 * would need them back is refused (see {@linkcode missingPermissions}).
 */
export function narrowPermissions(config: Config, log: Logger): void {
  const needed = neededPermissions(config);
  const dropped: string[] = [];
  for (const name of ["run", "write"] as const) {
    if (needed[name] || Deno.permissions.querySync({ name }).state !== "granted") continue;
    Deno.permissions.revokeSync({ name });
    dropped.push(name);
  }
  if (dropped.length > 0) {
    log.info(`Dropped permissions this config does not need: ${dropped.join(", ")}`);
  }
}

/** Why `config` cannot run in this process (a permission given up at start), if it cannot. */
export function missingPermissions(config: Config): string | undefined {
  const needed = neededPermissions(config);
  const missing = (["run", "write"] as const).filter((name) =>
    needed[name] && Deno.permissions.querySync({ name }).state !== "granted"
  );
  if (missing.length === 0) return undefined;
  return `it needs the ${missing.join(" and ")} permission${missing.length > 1 ? "s" : ""}, ` +
    "given up at start because the first config did not: restart snapcron to load it";
}
