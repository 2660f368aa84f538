/** One backup as retention sees it: an Elasticsearch snapshot or a stored dump. */
export interface BackupItem {
  /** Unique among the items handed to one planner call: snapshot name or storage key. */
  id: string;
  /** When the backup was taken (snapshot start time, upload time). */
  time: Date;
  /** A SUCCESS snapshot or a verified backup; authoritative over `state`. */
  ok: boolean;
  /** The job that created it; with `options.job` set, only matching items are ever deleted. */
  job?: string;
  /** The source's own state word, e.g. "SUCCESS", "FAILED", "PARTIAL", "IN_PROGRESS". */
  state?: string;
  /** Size in bytes, when known. */
  size?: number;
}

/** What retention decided for one item, and why. */
export interface Verdict {
  id: string;
  action: "keep" | "delete";
  /** Short machine name of the deciding rule, e.g. "newest-success", "expire_after". */
  rule: string;
  /** A sentence for people, naming the numbers that decided it. */
  reason: string;
}

/** A retention decision for a list of items. */
export interface Plan {
  /** One per input item, newest first (equal times: greater id first). */
  verdicts: Verdict[];
  /** Ids to delete, newest first. */
  delete: string[];
  /** Ids to keep, newest first. */
  keep: string[];
}

/** Elasticsearch SLM-style retention (`retention:` of an `elasticsearch` job). */
export interface SnapshotRetentionPolicy {
  /** `expire_after`: successful snapshots older than this are deleted, down to `minCount`. */
  expireAfterMs?: number;
  /** `min_count`: this many newest successful snapshots are kept whatever their age. */
  minCount?: number;
  /** `max_count`: at most this many successful snapshots are kept. */
  maxCount?: number;
}

/** Options of {@linkcode planSnapshotRetention}. */
export interface SnapshotRetentionOptions {
  /** The time retention runs at; ages are measured from it. */
  now: Date;
  /** Only items tagged with this job are considered; all others are kept untouched. */
  job?: string;
}

/** Grandfather-father-son retention in the manner of restic (`retention:` of stored backups). */
export interface BackupRetentionPolicy {
  /** `keep_last`: the N newest successful backups. */
  keepLast?: number;
  /** `keep_within`: successful backups taken less than this long before `now`. */
  keepWithinMs?: number;
  /** `keep_hourly`: the newest successful backup of each of the N latest hours that have one. */
  keepHourly?: number;
  /** `keep_daily`: the same per calendar day. */
  keepDaily?: number;
  /** `keep_weekly`: the same per ISO week (Monday to Sunday). */
  keepWeekly?: number;
  /** `keep_monthly`: the same per calendar month. */
  keepMonthly?: number;
  /** `keep_yearly`: the same per calendar year. */
  keepYearly?: number;
}

/** Options of {@linkcode planBackupRetention}. */
export interface BackupRetentionOptions {
  /** The time retention runs at; `keep_within` is measured from it. */
  now: Date;
  /** IANA zone whose calendar defines hours, days, weeks, months and years; default "UTC". */
  timezone?: string;
  /** Only items tagged with this job are considered; all others are kept untouched. */
  job?: string;
}
