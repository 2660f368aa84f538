/**
 * Answers of a real server, for unit tests. Every body below was captured verbatim with curl
 * from Elasticsearch 9.5.4 (integration-test zip, single node, security off) on 127.0.0.1:19200
 * on 2026-11-25, with the request that produced it. Only tests import this module.
 */

/** A captured answer: HTTP status and the body text exactly as it came. */
export interface CannedAnswer {
  /** The request, and how the situation was set up. */
  request: string;
  status: number;
  body: string;
}

/** Error answers, keyed by `error.type` (plus a suffix when one type has several causes). */
export const ERRORS = {
  root405: {
    request: "GET / (the integration-test zip lacks the module serving it)",
    status: 405,
    body:
      '{"error":"Incorrect HTTP method for uri [/] and method [GET], allowed: [DELETE]","status":405}',
  },
  repositoryMissing: {
    request: "GET /_snapshot/nope",
    status: 404,
    body:
      '{"error":{"root_cause":[{"type":"repository_missing_exception","reason":"[nope] missing"}],"type":"repository_missing_exception","reason":"[nope] missing"},"status":404}',
  },
  invalidName: {
    request: "PUT /_snapshot/r1/Bad%20Name",
    status: 400,
    body:
      '{"error":{"root_cause":[{"type":"invalid_snapshot_name_exception","reason":"[r1:Bad Name] Invalid snapshot name [Bad Name], must not contain whitespace"}],"type":"invalid_snapshot_name_exception","reason":"[r1:Bad Name] Invalid snapshot name [Bad Name], must not contain whitespace"},"status":400}',
  },
  nameInUse: {
    request: "PUT /_snapshot/r4/c1?wait_for_completion=false while c1 was running",
    status: 400,
    body:
      '{"error":{"root_cause":[{"type":"snapshot_name_already_in_use_exception","reason":"[r4:c1] Invalid snapshot name [c1], snapshot with the same name is already in-progress"}],"type":"snapshot_name_already_in_use_exception","reason":"[r4:c1] Invalid snapshot name [c1], snapshot with the same name is already in-progress"},"status":400}',
  },
  concurrentLimit: {
    request:
      "PUT /_snapshot/r4/c5 while c4 ran, with cluster setting snapshot.max_concurrent_operations=1",
    status: 503,
    body:
      '{"error":{"root_cause":[{"type":"concurrent_snapshot_execution_exception","reason":"[r4:c5] Cannot start another operation, already running [1] operations and the current limit for concurrent snapshot operations is set to [1]"}],"type":"concurrent_snapshot_execution_exception","reason":"[r4:c5] Cannot start another operation, already running [1] operations and the current limit for concurrent snapshot operations is set to [1]"},"status":503}',
  },
  concurrentRestore: {
    request: "DELETE /_snapshot/r4/slow2 while slow2 was being restored (throttled)",
    status: 503,
    body:
      '{"error":{"root_cause":[{"type":"concurrent_snapshot_execution_exception","reason":"[default:r4:slow2/LNtB-K2TT82WTMmsKFEs6A] cannot delete snapshot during a restore in progress in [RestoreInProgress[{r9F51gQlROebhAIgWnuOAw}{default:r4:slow2/LNtB-K2TT82WTMmsKFEs6A}]]"}],"type":"concurrent_snapshot_execution_exception","reason":"[default:r4:slow2/LNtB-K2TT82WTMmsKFEs6A] cannot delete snapshot during a restore in progress in [RestoreInProgress[{r9F51gQlROebhAIgWnuOAw}{default:r4:slow2/LNtB-K2TT82WTMmsKFEs6A}]]"},"status":503}',
  },
  inProgress: {
    request: "DELETE /scratch-big while a snapshot of it was running",
    status: 400,
    body:
      '{"error":{"root_cause":[{"type":"snapshot_in_progress_exception","reason":"Cannot delete indices that are being snapshotted: [[scratch-big/PTYsFIB1R-25JhTGp5Umpw]]. Try again after snapshot finishes or cancel the currently running snapshot."}],"type":"snapshot_in_progress_exception","reason":"Cannot delete indices that are being snapshotted: [[scratch-big/PTYsFIB1R-25JhTGp5Umpw]]. Try again after snapshot finishes or cancel the currently running snapshot."},"status":400}',
  },
  snapshotMissing: {
    request: "GET /_snapshot/r1/nosuch (DELETE /_snapshot/r1/a2,nosuch answers the same)",
    status: 404,
    body:
      '{"error":{"root_cause":[{"type":"snapshot_missing_exception","reason":"[r1:nosuch] is missing"}],"type":"snapshot_missing_exception","reason":"[r1:nosuch] is missing"},"status":404}',
  },
  blobContainer: {
    request:
      "PUT /_snapshot/r2/f1?wait_for_completion=true with the repository's indices/ directory owned by root, mode 555",
    status: 500,
    body:
      '{"error":{"root_cause":[{"type":"exception","reason":"failed to create blob container"}],"type":"snapshot_exception","reason":"[r2:f1/Ryn65pYiTACfLOtVqfs7-A] failed to update snapshot in repository","caused_by":{"type":"exception","reason":"failed to create blob container","caused_by":{"type":"access_denied_exception","reason":"/tmp/snapcron-services/es/repo/r2/indices/k_esMHCxTHabA0rynxx_Dg"}}},"status":500}',
  },
  unassignedPrimary: {
    request:
      'PUT /_snapshot/r1/p2?wait_for_completion=true {"partial":false} including an index whose primary is unassigned',
    status: 500,
    body:
      '{"error":{"root_cause":[{"type":"snapshot_exception","reason":"[default:r1:p2/42LNn_sUR4mYrUiL55iYbQ] the following indices have unassigned primary shards and cannot be included in a snapshot unless [partial] is set to [true]: [scratch-unassigned]; for help with troubleshooting unassigned shards see https://www.elastic.co/docs/troubleshoot/elasticsearch/red-yellow-cluster-status?version=9.5\\n"}],"type":"snapshot_exception","reason":"[default:r1:p2/42LNn_sUR4mYrUiL55iYbQ] the following indices have unassigned primary shards and cannot be included in a snapshot unless [partial] is set to [true]: [scratch-unassigned]; for help with troubleshooting unassigned shards see https://www.elastic.co/docs/troubleshoot/elasticsearch/red-yellow-cluster-status?version=9.5\\n"},"status":500}',
  },
  restoreOverOpen: {
    request: "POST /_snapshot/r1/a1/_restore?wait_for_completion=true over the open source index",
    status: 500,
    body:
      '{"error":{"root_cause":[{"type":"snapshot_restore_exception","reason":"[default:r1:a1/Uw_ZsToITdOKzzzrDY9qtQ] cannot restore index [scratch-big] because an open index with same name already exists in the cluster. Either close or delete the existing index or restore the index under a different name by providing a rename pattern and replacement name"}],"type":"snapshot_restore_exception","reason":"[default:r1:a1/Uw_ZsToITdOKzzzrDY9qtQ] cannot restore index [scratch-big] because an open index with same name already exists in the cluster. Either close or delete the existing index or restore the index under a different name by providing a rename pattern and replacement name"},"status":500}',
  },
  verification: {
    request: "POST /_snapshot/r5/_verify with the location owned by root, mode 555",
    status: 500,
    body:
      '{"error":{"root_cause":[{"type":"exception","reason":"failed to create blob container"}],"type":"repository_verification_exception","reason":"[r5] path  is not accessible on master node","caused_by":{"type":"exception","reason":"failed to create blob container","caused_by":{"type":"access_denied_exception","reason":"/tmp/snapcron-services/es/repo/r5/tests-jj0AyfDYRyuq7Z2bUiCR_g"}}},"status":500}',
  },
  outsidePathRepo: {
    request: 'PUT /_snapshot/rbad {"type":"fs","settings":{"location":"/tmp/outside"}}',
    status: 500,
    body:
      '{"error":{"root_cause":[{"type":"repository_exception","reason":"[rbad] location [/tmp/outside] doesn\'t match any of the locations specified by path.repo"}],"type":"repository_exception","reason":"[rbad] failed to create repository","caused_by":{"type":"repository_exception","reason":"[rbad] location [/tmp/outside] doesn\'t match any of the locations specified by path.repo"}},"status":500}',
  },
} satisfies Record<string, CannedAnswer>;

/** Snapshot answers of `PUT /_snapshot/{repo}/{name}?wait_for_completion=true`. */
export const SNAPSHOTS = {
  success: {
    request: "PUT /_snapshot/r4/c3?wait_for_completion=true (repository throttled to 4mb/s)",
    status: 200,
    body:
      '{"snapshot":{"snapshot":"c3","uuid":"V-jJv3mjSmOPXGRz3qddeg","repository":"r4","version_id":9111000,"version":"9.5.2-9.5.4","indices":["scratch-big"],"data_streams":[],"include_global_state":false,"state":"SUCCESS","start_time":"2026-11-25T22:55:26.309Z","start_time_in_millis":1795647326309,"end_time":"2026-11-25T22:55:36.321Z","end_time_in_millis":1795647336321,"duration_in_millis":10012,"failures":[],"shards":{"total":2,"failed":0,"successful":2},"feature_states":[]}}',
  },
  partialUnassigned: {
    request:
      'PUT /_snapshot/r1/p1?wait_for_completion=true {"partial":true} including an index whose primary is unassigned',
    status: 200,
    body:
      '{"snapshot":{"snapshot":"p1","uuid":"l9-4zmseSyGDohQWp1reVA","repository":"r1","version_id":9111000,"version":"9.5.2-9.5.4","indices":["scratch-big","scratch-unassigned"],"data_streams":[],"include_global_state":false,"state":"PARTIAL","start_time":"2026-11-25T22:54:32.339Z","start_time_in_millis":1795647272339,"end_time":"2026-11-25T22:54:32.539Z","end_time_in_millis":1795647272539,"duration_in_millis":200,"failures":[{"index":"scratch-unassigned","index_uuid":"KULEj4RmTTKjl-ijlxiqYw","shard_id":0,"reason":"primary shard is not allocated","status":"INTERNAL_SERVER_ERROR"}],"shards":{"total":3,"failed":1,"successful":2},"feature_states":[]}}',
  },
  partialUnwritable: {
    request:
      "PUT /_snapshot/r3/f2?wait_for_completion=true (partial false) after the shard directories of the repository were made root-owned, mode 555",
    status: 200,
    body:
      '{"snapshot":{"snapshot":"f2","uuid":"0kHkSXCFQR27m3zaRooM2w","repository":"r3","version_id":9111000,"version":"9.5.2-9.5.4","indices":["scratch-big"],"data_streams":[],"include_global_state":false,"state":"PARTIAL","start_time":"2026-11-25T22:54:43.356Z","start_time_in_millis":1795647283356,"end_time":"2026-11-25T22:54:43.356Z","end_time_in_millis":1795647283356,"duration_in_millis":0,"failures":[{"index":"scratch-big","index_uuid":"EpIR1Vo2TGWk0NQnlRN24g","shard_id":0,"reason":"IndexShardSnapshotFailedException[Failed to write shard level snapshot metadata for [f2/0kHkSXCFQR27m3zaRooM2w] to [index-AQeYTulmSFihkHaNgSAMpw]]; nested: AccessDeniedException[/tmp/snapcron-services/es/repo/r3/indices/xsrzxVp1Roal7HjB93mdFg/0/index-AQeYTulmSFihkHaNgSAMpw]","node_id":"YyoQcv7SRFulho0OJWKfLQ","status":"INTERNAL_SERVER_ERROR"},{"index":"scratch-big","index_uuid":"EpIR1Vo2TGWk0NQnlRN24g","shard_id":1,"reason":"IndexShardSnapshotFailedException[Failed to write shard level snapshot metadata for [f2/0kHkSXCFQR27m3zaRooM2w] to [index-oYktcno6Rt67mci7leqiTw]]; nested: AccessDeniedException[/tmp/snapcron-services/es/repo/r3/indices/xsrzxVp1Roal7HjB93mdFg/1/index-oYktcno6Rt67mci7leqiTw]","node_id":"YyoQcv7SRFulho0OJWKfLQ","status":"INTERNAL_SERVER_ERROR"}],"shards":{"total":2,"failed":2,"successful":0},"feature_states":[]}}',
  },
  failedAborted: {
    request:
      "PUT /_snapshot/r4/slow1?wait_for_completion=true, then DELETE /_snapshot/r4/slow1 while it ran; 9.5.4 answers FAILED with HTTP 200",
    status: 200,
    body:
      '{"snapshot":{"snapshot":"slow1","uuid":"kVJD3TbPTEm-5RmrgdfCuA","repository":"r4","version_id":9111000,"version":"9.5.2-9.5.4","indices":["scratch-big"],"data_streams":[],"include_global_state":false,"state":"FAILED","reason":"Snapshot was aborted by deletion","start_time":"2026-11-25T22:54:49.161Z","start_time_in_millis":1795647289161,"end_time":"2026-11-25T22:54:51.362Z","end_time_in_millis":1795647291362,"duration_in_millis":2201,"failures":[{"index":"scratch-big","index_uuid":"EpIR1Vo2TGWk0NQnlRN24g","shard_id":0,"reason":"aborted","node_id":"YyoQcv7SRFulho0OJWKfLQ","status":"INTERNAL_SERVER_ERROR"},{"index":"scratch-big","index_uuid":"EpIR1Vo2TGWk0NQnlRN24g","shard_id":1,"reason":"aborted","node_id":"YyoQcv7SRFulho0OJWKfLQ","status":"INTERNAL_SERVER_ERROR"}],"shards":{"total":2,"failed":2,"successful":0},"feature_states":[]}}',
  },
} satisfies Record<string, CannedAnswer>;

/** `GET /_snapshot/r4/_status` (filtered) while a throttled snapshot ran. */
export const RUNNING_STATUS: CannedAnswer = {
  request:
    "GET /_snapshot/r4/_status?filter_path=snapshots.snapshot,snapshots.state,snapshots.shards_stats,snapshots.stats.processed,snapshots.stats.total",
  status: 200,
  body:
    '{"snapshots":[{"snapshot":"slow1","state":"STARTED","shards_stats":{"initializing":0,"started":2,"finalizing":0,"done":0,"failed":0,"total":2},"stats":{"processed":{"file_count":19,"size_in_bytes":6978727},"total":{"file_count":32,"size_in_bytes":41978934}}}]}',
};

/** `GET /_snapshot/_status` (all repositories, unfiltered) while snapshot s1 ran unthrottled. */
export const RUNNING_STATUS_FULL: CannedAnswer = {
  request: "GET /_snapshot/_status during PUT /_snapshot/r1/s1?wait_for_completion=false",
  status: 200,
  body:
    '{"snapshots":[{"snapshot":"s1","repository":"r1","uuid":"3Sj11CVORK6Xqu5tqGffrw","state":"STARTED","include_global_state":false,"shards_stats":{"initializing":0,"started":2,"finalizing":0,"done":0,"failed":0,"total":2},"stats":{"incremental":{"file_count":29,"size_in_bytes":41973060},"processed":{"file_count":20,"size_in_bytes":8462748},"total":{"file_count":29,"size_in_bytes":41973060},"start_time_in_millis":1795647242039,"time_in_millis":602},"indices":{"scratch-big":{"shards_stats":{"initializing":0,"started":2,"finalizing":0,"done":0,"failed":0,"total":2},"stats":{"incremental":{"file_count":29,"size_in_bytes":41973060},"processed":{"file_count":20,"size_in_bytes":8462748},"total":{"file_count":29,"size_in_bytes":41973060},"start_time_in_millis":1795647242239,"time_in_millis":202},"shards":{"0":{"stage":"STARTED","stats":{"incremental":{"file_count":16,"size_in_bytes":20871860},"processed":{"file_count":14,"size_in_bytes":8460092},"total":{"file_count":16,"size_in_bytes":20871860},"start_time_in_millis":1795647242441,"time_in_millis":0},"node":"YyoQcv7SRFulho0OJWKfLQ"},"1":{"stage":"STARTED","stats":{"incremental":{"file_count":13,"size_in_bytes":21101200},"processed":{"file_count":6,"size_in_bytes":2656},"total":{"file_count":13,"size_in_bytes":21101200},"start_time_in_millis":1795647242239,"time_in_millis":0},"node":"YyoQcv7SRFulho0OJWKfLQ"}}}}}]}',
};

/** `GET /_snapshot/r1/_all?sort=start_time&order=asc&size=2&after=…&filter_path=…`: a middle page. */
export const LIST_PAGE: CannedAnswer = {
  request:
    "GET /_snapshot/r1/_all?sort=start_time&order=asc&size=2&after=MTc5NTY0NzI3MjMzOSxyMSxwMQ==&filter_path=snapshots.snapshot,next,total,remaining",
  status: 200,
  body:
    '{"snapshots":[{"snapshot":"a1"},{"snapshot":"a2"}],"next":"MTc5NTY0NzM2MTY4MSxyMSxhMg==","total":5,"remaining":1}',
};
