// What `main.ts` loads decides the idle daemon's memory (docs/benchmarks.md, footprint): an npm
// package anywhere in its module graph, even behind an import() that never runs, or a node:
// module imported statically, starts Deno's Node.js layer in every process (about 7 MiB). Those
// are loaded on first use, through import() calls the graph does not see or that name node:
// modules. This test keeps it so.
import assert from "node:assert/strict";

interface InfoModule {
  specifier: string;
  dependencies?: { specifier: string; code?: { specifier?: string }; isDynamic?: boolean }[];
}

const root = new URL("../", import.meta.url).pathname;

Deno.test("main.ts's module graph holds no npm package and imports no node: module statically", async () => {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: root,
    stderr: "inherit",
  }).output();
  assert.equal(info.code, 0);
  const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as {
    roots: string[];
    modules: InfoModule[];
  };
  const modules = new Map(graph.modules.map((module) => [module.specifier, module]));
  const from = new Map<string, string>();
  const problems: string[] = [];
  const chain = (specifier: string): string => {
    const names = [];
    for (let at: string | undefined = specifier; at !== undefined; at = from.get(at)) {
      names.unshift(at.replace(`file://${root}`, ""));
    }
    return names.join(" → ");
  };
  const queue = [...graph.roots];
  const seen = new Set(queue);
  for (let specifier = queue.shift(); specifier !== undefined; specifier = queue.shift()) {
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      const target = dependency.code?.specifier;
      if (target === undefined) continue;
      if (target.startsWith("npm:")) {
        problems.push(
          `${chain(specifier)} → ${target}${dependency.isDynamic ? " (import())" : ""}`,
        );
      } else if (target.startsWith("node:") && !dependency.isDynamic) {
        problems.push(`${chain(specifier)} → ${target}`);
      } else if (!seen.has(target)) {
        seen.add(target);
        from.set(target, specifier);
        queue.push(target);
      }
    }
  }
  assert.ok(seen.size > 50, `only ${seen.size} modules: the graph was not read`);
  assert.deepEqual(problems, [], `load these on first use instead:\n${problems.join("\n")}`);
});
