import type { EtcdSection } from "../config/mod.ts";
import { EtcdClient } from "../etcd/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Job } from "../runner/mod.ts";
import { type BackupTarget, housekeeping, storeBackup } from "./_backup.ts";

/** A client for a job's `etcd` section, on `endpoints` (all of them, or one to check). */
export function etcdClient(etcd: EtcdSection, endpoints: string[], log: Logger): EtcdClient {
  return new EtcdClient({
    endpoints,
    ...(etcd.username !== undefined
      ? { username: etcd.username, password: etcd.password ?? "" }
      : {}),
    ...(etcd.ca_file ? { caFile: etcd.ca_file } : {}),
    ...(etcd.cert_file ? { certFile: etcd.cert_file } : {}),
    ...(etcd.key_file ? { keyFile: etcd.key_file } : {}),
    ...(etcd.request_timeout ? { timeoutMs: etcd.request_timeout } : {}),
    log,
  });
}

/** A job that streams an etcd snapshot, verified on the way, into storage. */
export function etcdJob(name: string, etcd: EtcdSection, target: BackupTarget): Job {
  return {
    name,
    kind: "etcd",
    async run(ctx) {
      const client = etcdClient(etcd, etcd.endpoints, ctx.log);
      try {
        const status = await client.status(ctx.signal);
        ctx.progress({
          bytes: 0,
          totalBytes: status.dbSize,
          message: `snapshot of ${status.endpoint}`,
        });
        const snapshot = await client.snapshot({
          transport: etcd.transport ?? "auto",
          signal: ctx.signal,
        });
        ctx.log.info("Streaming the snapshot", {
          endpoint: snapshot.endpoint,
          transport: snapshot.transport,
          revision: status.revision,
          db_size: status.dbSize,
        });
        const { manifest, artifact } = await storeBackup(snapshot.body, {
          ...target,
          job: name,
          runId: ctx.runId,
          startedAt: ctx.startedAt,
          source: {
            kind: "etcd",
            endpoint: snapshot.endpoint,
            transport: snapshot.transport,
            etcd_version: status.version,
            revision: status.revision,
            raft_index: status.raftIndex,
            member_id: status.memberId,
            db_size: status.dbSize,
          },
          finalFacts: async () => {
            const done = await snapshot.done;
            return { snapshot_size: done.size, snapshot_sha256: done.sha256 };
          },
          // The snapshot's check already hashed every byte: the same pass gives the file's hash.
          bodyDigest: async () => {
            const done = await snapshot.done;
            return { size: done.size, sha256: done.fileSha256 };
          },
          signal: ctx.signal,
          onProgress: (bytes) =>
            ctx.progress({
              bytes,
              totalBytes: status.dbSize,
              percent: status.dbSize > 0
                ? Math.min(100, Math.round((bytes / status.dbSize) * 100))
                : 0,
            }),
        });
        ctx.stdout(
          `Stored etcd snapshot of revision ${status.revision} as ${manifest.key}: ` +
            `${manifest.content_size} bytes (${manifest.size} stored), sha256 ${manifest.sha256}\n`,
        );
        const deletions = await housekeeping(name, target, ctx);
        return { exitStatus: 0, artifacts: [artifact], deletions };
      } finally {
        client.close();
      }
    },
  };
}
