// Compares src/schedule with robfig/cron v3; run through scripts/dev/robfig_compare.sh.
//
// Usage: deno run --allow-read compare.ts EXPRESSIONS ROBFIG_OUTPUT FROM COUNT

import { parseSchedule, type Schedule } from "../../../src/schedule/mod.ts";

const encoder = new TextEncoder();
function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

function ours(expression: string, from: Date, count: number): string {
  let schedule: Schedule;
  try {
    schedule = parseSchedule(expression);
  } catch {
    return "error";
  }
  const times: string[] = [];
  let at = from;
  for (let i = 0; i < count; i++) {
    const run = schedule.next(at);
    if (run === undefined) {
      times.push("none");
      break;
    }
    times.push(run.at.toISOString().replace(".000Z", "Z"));
    at = run.at;
  }
  return times.join(" ");
}

function main(): void {
  const [expressionsFile, robfigFile, fromText, countText] = Deno.args;
  if (expressionsFile === undefined || robfigFile === undefined || fromText === undefined) {
    throw new TypeError("Usage: compare.ts EXPRESSIONS ROBFIG_OUTPUT FROM COUNT");
  }
  const from = new Date(fromText);
  const count = Number(countText ?? "20");
  const robfig = new Map<string, string>();
  for (const line of Deno.readTextFileSync(robfigFile).split("\n")) {
    const tab = line.indexOf("\t");
    if (tab > 0) robfig.set(line.slice(0, tab), line.slice(tab + 1));
  }
  let same = 0;
  let expected = 0;
  let unexpected = 0;
  for (const raw of Deno.readTextFileSync(expressionsFile).split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const deliberate = line.startsWith("!");
    const expression = line.replace(/^!/, "").trim();
    const theirs = robfig.get(expression) ?? "missing";
    const mine = ours(expression, from, count);
    if (theirs === mine) {
      same++;
      continue;
    }
    const a = theirs.split(" ");
    const b = mine.split(" ");
    const i = a.findIndex((t, k) => t !== b[k]);
    const detail = `robfig ${a[i] ?? "(end)"}, snapcron ${b[i] ?? "(end)"} (run ${i + 1})`;
    if (deliberate) {
      expected++;
      print(`deliberate difference: "${expression}": ${detail}`);
    } else {
      unexpected++;
      print(`MISMATCH: "${expression}": ${detail}`);
    }
  }
  print(
    `from ${from.toISOString()}: ${same} agree, ${expected} differ on purpose, ${unexpected} mismatches`,
  );
  if (unexpected > 0) Deno.exitCode = 1;
}

main();
