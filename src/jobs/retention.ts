import type { ElasticsearchSection } from "../config/mod.ts";
import type { Job } from "../runner/mod.ts";
import { type BackupTarget, housekeeping } from "./_backup.ts";
import { esClient, pruneSnapshots } from "./elasticsearch.ts";

/** What a retention job prunes: a job's snapshots, or its stored backups. */
export type RetentionSource =
  | { elasticsearch: ElasticsearchSection }
  | { target: BackupTarget };

/**
 * A job that only applies `of`'s retention, for `retention.schedule`: the same plan and
 * deletion that follow each backup, on a schedule of their own.
 */
export function retentionJob(name: string, of: string, source: RetentionSource): Job {
  return {
    name,
    kind: "retention",
    async run(ctx) {
      if ("elasticsearch" in source) {
        const client = esClient(source.elasticsearch, ctx.log);
        try {
          const deletions = await pruneSnapshots(client, source.elasticsearch, of, ctx);
          ctx.stdout(`Retention deleted ${deletions} snapshot(s) of "${of}"\n`);
          return { exitStatus: 0, deletions };
        } finally {
          await client.close();
        }
      }
      const deletions = await housekeeping(of, source.target, ctx);
      ctx.stdout(`Retention deleted ${deletions} backup(s) of "${of}"\n`);
      return { exitStatus: 0, deletions };
    },
  };
}
