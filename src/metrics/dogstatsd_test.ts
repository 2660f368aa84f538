import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { createLogger, silentLogger } from "../log/mod.ts";
import { type RunRecord, RunStore } from "../runner/mod.ts";
import { DogStatsD, MAX_DATAGRAM_BYTES } from "./mod.ts";

const encoder = new TextEncoder();
const START = "2026-03-01T02:00:00Z";
/** `d:` of a run that started at START and took 1.5 s. */
const ENDED_S = Math.floor((Date.parse(START) + 1500) / 1000);

function record(
  job: string,
  result: "success" | "failure" | "timeout" | "cancelled",
  extra: Partial<RunRecord> = {},
): RunRecord {
  return {
    job,
    id: `${job}-1`,
    trigger: "schedule",
    startedAt: new Date(START),
    endedAt: new Date(Date.parse(START) + 1500),
    result,
    exitStatus: result === "success" ? 0 : 3,
    attempts: 1,
    stdout: "",
    stderr: "",
    artifacts: [],
    ...extra,
  };
}

function running(value: RunRecord): RunRecord {
  const copy = { ...value };
  delete copy.endedAt;
  delete copy.result;
  delete copy.exitStatus;
  return copy;
}

/** A real UDP listener on 127.0.0.1 that hands out datagrams in arrival order. */
async function listen(): Promise<{
  port: number;
  take(count: number): Promise<string[]>;
  close(): void;
}> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const received: string[] = [];
  let wake = (): void => {};
  socket.on("message", (message) => {
    received.push(new TextDecoder().decode(message));
    wake();
  });
  return {
    port: socket.address().port,
    async take(count) {
      const deadline = Date.now() + 5000;
      while (received.length < count) {
        if (Date.now() > deadline) {
          throw new Error(`Timed out waiting for ${count} datagrams: got ${received.length}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 50);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return received.splice(0, count);
    },
    close: () => socket.close(),
  };
}

/** Sends one datagram from a fresh socket; what arrives before it was sent before it. */
async function sendSentinel(port: number): Promise<void> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve, reject) =>
    socket.send(encoder.encode("sentinel"), port, "127.0.0.1", (error) => {
      if (error) reject(error);
      else resolve();
    })
  );
  socket.close();
}

Deno.test("DogStatsD sends count, timing, service check and a failure event", async () => {
  const agent = await listen();
  const client = new DogStatsD({
    port: agent.port,
    tags: ["env:prod", "team:data platform"],
    log: silentLogger(),
  });
  const store = new RunStore();
  client.attach(store);
  const tags = "env:prod,team:data_platform";
  try {
    const ok = record("db", "success", {
      artifacts: [{ kind: "file", name: "db.dump", size: 2048 }, { kind: "file", name: "x" }],
    });
    store.update(running(ok));
    store.update(running(ok)); // A progress update sends nothing.
    store.finish(ok);
    assert.deepEqual(await agent.take(6), [
      `snapcron.running:1|g|#job:db,${tags}`,
      `snapcron.run.count:1|c|#job:db,result:success,${tags}`,
      `snapcron.run.duration:1500|ms|#job:db,result:success,${tags}`,
      `snapcron.backup.bytes:2048|c|#job:db,${tags}`,
      `snapcron.running:0|g|#job:db,${tags}`,
      `_sc|snapcron.job|0|d:${ENDED_S}|#job:db,${tags}|m:exit status 0`,
    ]);

    const failed = record("db", "failure", {
      id: "db-2",
      error: "Exit status 3",
      stdout: "ignored while stderr has text\n",
      stderr: "dumping…\nbackup failed: disque plein é ✓\n",
      artifacts: [{ kind: "file", name: "partial", size: 10 }],
    });
    store.finish(failed);
    const title = 'snapcron job "db" failed';
    const text = "exit status 3\\ndumping…\\nbackup failed: disque plein é ✓";
    // Lengths are UTF-8 bytes: "…" is 3, "é" 2 and "✓" 3 bytes but one UTF-16 unit each.
    assert.deepEqual([encoder.encode(title).length, encoder.encode(text).length], [24, 61]);
    assert.deepEqual(text.length, 56);
    assert.deepEqual(await agent.take(5), [
      `snapcron.run.count:1|c|#job:db,result:failure,${tags}`,
      `snapcron.run.duration:1500|ms|#job:db,result:failure,${tags}`,
      `snapcron.running:0|g|#job:db,${tags}`,
      `_sc|snapcron.job|2|d:${ENDED_S}|#job:db,${tags}|m:exit status 3: backup failed: disque ` +
      "plein é ✓",
      `_e{24,61}:${title}|${text}|t:error|#job:db,result:failure,${tags}`,
    ]);

    store.skip("db", "previous run still running (overlap: skip)", new Date(START));
    assert.deepEqual(await agent.take(1), [`snapcron.run.skipped:1|c|#job:db,${tags}`]);
  } finally {
    await client.close();
    agent.close();
  }
});

Deno.test("DogStatsD makes tags, the service check message and the prefix safe", async () => {
  const agent = await listen();
  const client = new DogStatsD({ port: agent.port, prefix: "backup.", log: silentLogger() });
  const store = new RunStore();
  client.attach(store);
  try {
    store.finish(record("nightly|db,#x:y", "timeout", {
      exitStatus: 124,
      error: "Timed out after 5m",
      stderr: "waiting\ntar: a | b m:c\r\n",
    }));
    const tags = "#job:nightly_db__x_y";
    const title = 'snapcron job "nightly|db,#x:y" timed out';
    const text = "Timed out after 5m (exit status 124)\\nwaiting\\ntar: a | b m:c";
    assert.deepEqual(await agent.take(5), [
      `backup.run.count:1|c|${tags},result:timeout`,
      `backup.run.duration:1500|ms|${tags},result:timeout`,
      `backup.running:0|g|${tags}`,
      `_sc|backup.job|2|d:${ENDED_S}|${tags}|m:Timed out after 5m (exit status 124): ` +
      "tar: a ¦ b m\\:c",
      `_e{${encoder.encode(title).length},${encoder.encode(text).length}}:${title}|${text}` +
      `|t:error|${tags},result:timeout`,
    ]);
  } finally {
    await client.close();
    agent.close();
  }
});

Deno.test("DogStatsD keeps a failure event under the datagram limit with the output's tail", async () => {
  const agent = await listen();
  const client = new DogStatsD({ port: agent.port, log: silentLogger() });
  const store = new RunStore();
  client.attach(store);
  try {
    const lines = Array.from({ length: 3000 }, (_, i) => `line ${i} é ✓ ${"x".repeat(i % 50)}`);
    store.finish(record("db", "failure", { stderr: lines.join("\n") + "\n" }));
    const event = (await agent.take(5))[4] ?? "";
    const bytes = encoder.encode(event).length;
    assert.ok(bytes <= MAX_DATAGRAM_BYTES && bytes > MAX_DATAGRAM_BYTES - 200, `${bytes} bytes`);
    const match = /^_e\{(\d+),(\d+)\}:/.exec(event);
    assert.ok(match, event.slice(0, 40));
    const body = encoder.encode(event.slice(match[0].length));
    const title = new TextDecoder().decode(body.subarray(0, Number(match[1])));
    const text = new TextDecoder().decode(
      body.subarray(Number(match[1]) + 1, Number(match[1]) + 1 + Number(match[2])),
    );
    assert.deepEqual(title, 'snapcron job "db" failed');
    assert.ok(text.startsWith("exit status 3\\n…\\nline "), text.slice(0, 40));
    assert.ok(text.endsWith(`\\n${lines.at(-1)}`));
    assert.ok(event.endsWith(`${lines.at(-1)}|t:error|#job:db,result:failure`));
  } finally {
    await client.close();
    agent.close();
  }
});

Deno.test("DogStatsD.close() detaches, stops sending and is safe twice", async () => {
  const agent = await listen();
  const client = new DogStatsD({ port: agent.port, log: silentLogger() });
  const store = new RunStore();
  const detach = client.attach(store);
  try {
    store.skip("db", "overlap", new Date(START));
    assert.deepEqual(await agent.take(1), ["snapcron.run.skipped:1|c|#job:db"]);
    detach();
    store.skip("db", "overlap", new Date(START));
    client.attach(store);
    await Promise.all([client.close(), client.close()]);
    client.attach(store);
    store.finish(record("db", "failure"));
    await sendSentinel(agent.port);
    assert.deepEqual(await agent.take(1), ["sentinel"]);
  } finally {
    await client.close();
    agent.close();
  }
});

Deno.test("DogStatsD.close() sends what a just-finished run queued", async () => {
  const agent = await listen();
  const client = new DogStatsD({ port: agent.port, log: silentLogger() });
  const store = new RunStore();
  client.attach(store);
  try {
    store.finish(record("db", "success"));
    await client.close();
    assert.deepEqual((await agent.take(4)).map((datagram) => datagram.split("|")[0]), [
      "snapcron.run.count:1",
      "snapcron.run.duration:1500",
      "snapcron.running:0",
      "_sc",
    ]);
  } finally {
    await client.close();
    agent.close();
  }
});

Deno.test("DogStatsD logs send failures without throwing, one warning a minute", async () => {
  const lines: { level: string; msg: string; suppressed?: number }[] = [];
  let now = Date.parse(START);
  const log = createLogger({
    format: "json",
    level: "debug",
    write: (line) => lines.push(JSON.parse(line)),
  });
  // Linux refuses a broadcast without SO_BROADCAST: a local error, nothing leaves the host.
  const client = new DogStatsD({ host: "255.255.255.255", log, now: () => new Date(now) });
  const store = new RunStore();
  client.attach(store);
  try {
    store.finish(record("db", "failure"));
    for (let i = 0; i < 100 && lines.length < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(lines.map((line) => line.level), ["warn", "debug", "debug", "debug", "debug"]);
    assert.match(lines[0]?.msg ?? "", /^Cannot send to DogStatsD "255\.255\.255\.255:8125": /);
    now += 61_000;
    store.skip("db", "overlap", new Date(now));
    for (let i = 0; i < 100 && lines.length < 6; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(lines[5]?.level, "warn");
    assert.deepEqual(lines[5]?.suppressed, 4);
  } finally {
    await client.close();
  }
});

Deno.test("DogStatsD rejects a bad port or prefix", () => {
  assert.throws(
    () => new DogStatsD({ port: 0, log: silentLogger() }),
    new RangeError('Invalid DogStatsD port "0": use a number from 1 to 65535'),
  );
  assert.throws(
    () => new DogStatsD({ prefix: "a|b.", log: silentLogger() }),
    RangeError,
  );
});
