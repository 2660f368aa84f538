/**
 * etcd v3 client for backups: member status and snapshots streamed over native gRPC (HTTP/2
 * `fetch`) or the JSON gateway, verified against etcd's SHA-256 trailer on the way, with
 * password auth, TLS and fail over across endpoints; leader election over a lease for replicas.
 */
export {
  EtcdClient,
  type EtcdClientOptions,
  type EtcdStatus,
  type SnapshotOptions,
  type SnapshotStream,
  type SnapshotTransport,
} from "./_client.ts";
export { EtcdError, type EtcdErrorOptions } from "./_errors.ts";
export {
  LeaderElection,
  type LeaderElectionCloseOptions,
  type LeaderElectionOptions,
  type Role,
} from "./_lease.ts";
export { snapshotChecker } from "./_verify.ts";
