import { EXIT, print, VERSION } from "./_common.ts";

/** `snapcron version`: version, Deno version and build facts. */
export function versionCommand(): number {
  print(`snapcron ${VERSION}`);
  print(`deno ${Deno.version.deno} (v8 ${Deno.version.v8}, typescript ${Deno.version.typescript})`);
  print(`build ${Deno.build.target}`);
  return EXIT.ok;
}
