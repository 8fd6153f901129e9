import type { DatabaseServer } from '../../functions/core/restore/restore-target.ts';
import { appliesCall, awsError, type FaultKind, type FaultSchedule, faultFor } from './faults.ts';

/**
 * A stateful fake AWS for the workflows: RDS instances, clusters and global clusters that move
 * through their statuses as the world's clock advances, snapshots, Route 53 records and changes,
 * the DynamoDB lock table, SNS publishes, and the PostgreSQL servers a dump restore writes into.
 *
 * Two faces:
 * - `sfn(resource, params)` answers a Task state's service integration the way Step Functions
 *   does: Java SDK v2 field names (`DbInstanceIdentifier`, `DbInstances[0].DbInstanceStatus`) and
 *   error names (`Rds.DbInstanceNotFoundException`).
 * - `rdsClient()` answers the AWS SDK v3 commands the task functions send (`DBInstanceIdentifier`,
 *   `DBInstanceNotFoundFault`).
 *
 * Time is in seconds and only moves when something waits: a Wait state (bound to `advance` by the
 * runner) or an API call (one second each). Every resource remembers who created it (the
 * `lifeboat:created-by` tag, or `operator` for what existed before the run) and every removal is
 * logged, so the invariants can ask "was anything removed that this execution did not create?".
 */

export interface Tag {
  readonly Key: string;
  readonly Value: string;
}

export { awsError };

const rdsFault = (shape: string, message: string) => awsError(`Rds.${shape}Exception`, message);

interface Instance {
  id: string;
  engine: string;
  clusterId: string | null;
  tags: Tag[];
  createdBy: string;
  createdAt: number;
  availableAt: number;
  /** A restore that ends here instead of `available` (incompatible-restore, storage-full ...). */
  endsAs: string | null;
  deletingUntil: number | null;
  replicaOf: string | null;
  promotedAt: number | null;
  restoredFrom: string | null;
  region: string;
  /** VPC security groups (a fence moves the old primary into one that lets nothing in). */
  securityGroups: string[];
}

interface Cluster {
  id: string;
  engine: string;
  tags: Tag[];
  createdBy: string;
  availableAt: number;
  deletingUntil: number | null;
  globalClusterId: string | null;
  region: string;
  securityGroups: string[];
}

interface GlobalCluster {
  id: string;
  writer: string;
  members: string[];
  busyUntil: number;
  /** What the global cluster does until busyUntil (then it is available again). */
  transition: 'switching-over' | 'failing-over' | null;
}

/**
 * How the approval gate's task token is answered: `approve` (SendTaskSuccess, as `lifeboat
 * approve` sends it), `abort` (SendTaskFailure with FailoverAborted, as `lifeboat abort` sends it),
 * `none` (nobody answers: the Task times out after `timeoutSeconds`).
 */
export interface ApprovalAnswer {
  readonly decision: 'approve' | 'abort' | 'none';
  /** Seconds until the answer (for `none`: the Task's TimeoutSeconds). */
  readonly afterSeconds: number;
}

/** The AWS SDK v3 client the world hands a task function: region and the SDK's own retries. */
export interface SdkClientOptions {
  /** @default the world's region */
  readonly region?: string;
  /** Attempts the SDK makes on a retryable error (rdsIn: 6; 2 for the fast client). @default 1 */
  readonly maxAttempts?: number;
}

export const ACCOUNT = '111111111111';
/** The engine version of every database in the world. */
export const ENGINE_VERSION = '16.4';

interface DnsChange {
  id: string;
  submittedAt: number;
}

export interface PgDatabase {
  mark: string | null;
  rows: number;
  createdBy: string;
}

export interface Removal {
  readonly kind: 'instance' | 'cluster' | 'database';
  readonly id: string;
  readonly createdBy: string;
  readonly at: number;
}

export interface Publish {
  readonly topicArn: string;
  readonly message: Record<string, unknown>;
  readonly at: number;
}

export interface WorldOptions {
  readonly region?: string;
  /** Seconds a restored instance or cluster takes to become available. @default 1200 */
  readonly restoreSeconds?: number;
  /** Seconds a deletion takes. @default 300 */
  readonly deleteSeconds?: number;
  /** A restored instance ends in this status instead of `available`. @default null */
  readonly restoreEndsAs?: string | null;
  /** Seconds a Route 53 change takes to be INSYNC. @default 60 */
  readonly dnsSyncSeconds?: number;
  /**
   * Seconds a promoted read replica stays `modifying`, and a global cluster `switching-over` /
   * `failing-over` (Infinity: it never gets there). @default 120
   */
  readonly promoteSeconds?: number;
}

/** A promotion the world applied: a read replica promoted, or a global cluster's writer moved. */
export interface Promotion {
  readonly how: 'promote-read-replica' | 'switching-over' | 'failing-over';
  readonly id: string;
  readonly at: number;
}

const OPERATOR = 'operator';

export class FakeAws {
  readonly region: string;
  now = 0;
  readonly instances = new Map<string, Instance>();
  readonly clusters = new Map<string, Cluster>();
  readonly globalClusters = new Map<string, GlobalCluster>();
  readonly snapshots = new Map<string, 'instance' | 'cluster'>();
  readonly records = new Map<string, string>();
  readonly changes = new Map<string, DnsChange>();
  readonly tables = new Map<string, Map<string, Record<string, unknown>>>();
  readonly published: Publish[] = [];
  readonly servers = new Map<string, Map<string, PgDatabase>>();
  readonly removals: Removal[] = [];
  readonly promotions: Promotion[] = [];
  /** Every instance and cluster a create call made, with its creator (kept after it is deleted). */
  readonly creations: {
    readonly kind: 'instance' | 'cluster';
    readonly id: string;
    readonly createdBy: string;
  }[] = [];
  /**
   * Faults of the calls task functions make through the SDK face (`sdk:<Operation>`, e.g.
   * `sdk:CreateDBInstanceReadReplica`); an `unreachable` one cuts the client's region off from then on.
   */
  sdkFaults: FaultSchedule = [];
  /** SDK-face faults that fired. */
  sdkInjected = 0;
  /** Regions whose endpoints cannot be reached (SDK face). */
  readonly unreachable = new Set<string>();
  /** How RequestApproval's task token is answered. */
  approval: ApprovalAnswer = { decision: 'approve', afterSeconds: 300 };
  /** Calls per SDK-face operation (`sdk:<Operation>`), retries included. */
  readonly sdkCalls: Record<string, number> = {};
  /** Every call the world answered (after faults let it through), in order. */
  readonly applied: { op: string; at: number }[] = [];
  private readonly options: Required<WorldOptions>;
  private changeSeq = 0;

  constructor(options: WorldOptions = {}) {
    this.options = {
      region: 'eu-central-1',
      restoreSeconds: 1200,
      deleteSeconds: 300,
      restoreEndsAs: null,
      dnsSyncSeconds: 60,
      promoteSeconds: 120,
      ...options,
    };
    this.region = this.options.region;
  }

  advance(seconds: number): void {
    this.now += seconds;
    this.settle();
  }

  // --- setup ---------------------------------------------------------------------------------------

  addSnapshot(id: string, kind: 'instance' | 'cluster'): void {
    this.snapshots.set(id, kind);
  }

  /** An instance that existed before the run (the operator's unless `tags` say otherwise): available. */
  addInstance(
    id: string,
    extra: { replicaOf?: string; clusterId?: string; engine?: string; region?: string; tags?: Tag[] } = {},
  ): void {
    const tags = extra.tags ?? [];
    this.instances.set(id, {
      id,
      engine: extra.engine ?? 'postgres',
      clusterId: extra.clusterId ?? null,
      tags,
      createdBy: creatorOf(tags) ?? OPERATOR,
      createdAt: -1,
      availableAt: 0,
      endsAs: null,
      deletingUntil: null,
      replicaOf: extra.replicaOf ?? null,
      promotedAt: null,
      restoredFrom: null,
      region:
        extra.region ??
        (extra.clusterId ? this.clusters.get(extra.clusterId)?.region : undefined) ??
        this.region,
      securityGroups: ['sg-app'],
    });
  }

  addCluster(id: string, extra: { globalClusterId?: string; region?: string; tags?: Tag[] } = {}): void {
    const tags = extra.tags ?? [];
    this.clusters.set(id, {
      id,
      engine: 'aurora-postgresql',
      tags,
      createdBy: creatorOf(tags) ?? OPERATOR,
      availableAt: 0,
      deletingUntil: null,
      globalClusterId: extra.globalClusterId ?? null,
      region: extra.region ?? this.region,
      securityGroups: ['sg-app'],
    });
  }

  /** A global cluster whose writer is `writer`; its member clusters are added with addCluster. */
  addGlobalCluster(id: string, writer: string, members: string[]): void {
    this.globalClusters.set(id, { id, writer, members, busyUntil: 0, transition: null });
    for (const m of members) {
      const c = this.clusters.get(m);
      if (c) c.globalClusterId = id;
    }
  }

  /** A PostgreSQL server (a dump restore's target), with databases that existed before the run. */
  addServer(identifier: string, databases: Record<string, number> = {}): void {
    this.addInstance(identifier);
    this.servers.set(
      identifier,
      new Map(Object.entries(databases).map(([n, rows]) => [n, { mark: null, rows, createdBy: OPERATOR }])),
    );
  }

  // --- what the invariants read ----------------------------------------------------------------------

  instanceStatus(id: string): string | null {
    const i = this.instances.get(id);
    if (!i) return null;
    if (i.deletingUntil !== null) return 'deleting';
    if (this.now < i.availableAt) return 'creating';
    if (i.endsAs) return i.endsAs;
    if (i.promotedAt !== null && this.now < i.promotedAt) return 'modifying';
    return 'available';
  }

  clusterStatus(id: string): string | null {
    const c = this.clusters.get(id);
    if (!c) return null;
    if (c.deletingUntil !== null) return 'deleting';
    return this.now < c.availableAt ? 'creating' : 'available';
  }

  /** available, or switching-over / failing-over while a writer change is under way. */
  globalStatus(id: string): string | null {
    const g = this.globalClusters.get(id);
    if (!g) return null;
    return this.now < g.busyUntil && g.transition ? g.transition : 'available';
  }

  clusterArn(id: string): string {
    return `arn:aws:rds:${this.clusters.get(id)?.region ?? this.region}:${ACCOUNT}:cluster:${id}`;
  }

  instanceArn(id: string): string {
    return `arn:aws:rds:${this.instances.get(id)?.region ?? this.region}:${ACCOUNT}:db:${id}`;
  }

  /** Instances and clusters `executionName` created that still exist and are not being deleted. */
  leftBy(executionName: string): { instances: string[]; clusters: string[] } {
    const alive = <T extends { createdBy: string; deletingUntil: number | null }>(m: Map<string, T>) =>
      [...m.entries()]
        .filter(([, r]) => r.createdBy === executionName && r.deletingUntil === null)
        .map(([id]) => id);
    return { instances: alive(this.instances), clusters: alive(this.clusters) };
  }

  endpointOf(id: string): string {
    return `${id}.c0ffee.${this.instances.get(id)?.region ?? this.region}.rds.amazonaws.com`;
  }

  clusterEndpointOf(id: string): string {
    return `${id}.cluster-c0ffee.${this.clusters.get(id)?.region ?? this.region}.rds.amazonaws.com`;
  }

  // --- Step Functions service integrations ------------------------------------------------------------

  /** Answers a Task state whose Resource is a service integration (not a Lambda function). */
  sfn(resource: string, params: Record<string, unknown>): unknown {
    const match = /^arn:aws:states:::(?:aws-sdk:)?([a-z0-9]+):([A-Za-z]+)(?:\.[a-zA-Z]+)?$/.exec(resource);
    if (!match) throw new Error(`world: no service integration ${resource}`);
    const [, service, action] = match as unknown as [string, string, string];
    this.tick(`${service}:${action}`);
    if (service === 'dynamodb' && resource.includes(':aws-sdk:')) {
      // The AWS SDK integration names DynamoDB's errors `DynamoDb.*` (the optimized one `DynamoDB.*`).
      try {
        return this.answer(service, action, resource, params);
      } catch (err) {
        (err as Error).name = (err as Error).name.replace(/^DynamoDB\./, 'DynamoDb.');
        throw err;
      }
    }
    return this.answer(service, action, resource, params);
  }

  private answer(
    service: string,
    action: string,
    resource: string,
    params: Record<string, unknown>,
  ): unknown {
    const p = new Params(params, `${service}:${action}`);
    switch (`${service}:${action}`) {
      case 'rds:restoreDBInstanceFromDBSnapshot':
        return { DbInstance: this.restoreInstance(p, p.need('DBInstanceIdentifier'), this.snapshot(p)) };
      case 'rds:restoreDBInstanceToPointInTime':
        return {
          DbInstance: this.restoreInstance(p, p.need('TargetDBInstanceIdentifier'), this.pitrSource(p)),
        };
      case 'rds:restoreDBClusterFromSnapshot':
        return { DbCluster: this.restoreCluster(p, this.clusterSnapshot(p)) };
      case 'rds:restoreDBClusterToPointInTime':
        return { DbCluster: this.restoreCluster(p, this.clusterPitrSource(p)) };
      case 'rds:createDBInstance':
        return { DbInstance: this.createClusterInstance(p) };
      case 'rds:describeDBInstances':
        return { DbInstances: [this.describeInstance(p.need('DBInstanceIdentifier'))] };
      case 'rds:describeDBClusters':
        return { DbClusters: [this.describeCluster(p.need('DBClusterIdentifier'))] };
      case 'rds:deleteDBInstance':
        return { DbInstance: this.deleteInstance(p.need('DBInstanceIdentifier')) };
      case 'rds:deleteDBCluster':
        return { DbCluster: this.deleteCluster(p.need('DBClusterIdentifier')) };
      case 'rds:promoteReadReplica':
        return { DbInstance: this.promote(p.need('DBInstanceIdentifier')) };
      case 'rds:failoverGlobalCluster':
        return {
          GlobalCluster: this.switchWriter(
            p.need('GlobalClusterIdentifier'),
            p.need('TargetDbClusterIdentifier'),
            p.get('AllowDataLoss') === true ? 'failing-over' : 'switching-over',
          ),
        };
      case 'rds:switchoverGlobalCluster':
        return {
          GlobalCluster: this.switchWriter(
            p.need('GlobalClusterIdentifier'),
            p.need('TargetDbClusterIdentifier'),
            'switching-over',
          ),
        };
      case 'route53:changeResourceRecordSets':
        return { ChangeInfo: this.changeRecords(params) };
      case 'route53:getChange':
        return { ChangeInfo: this.getChange(p.need('Id')) };
      case 'sns:publish':
        return this.publish(params);
      case 'dynamodb:putItem':
        return this.putItem(params);
      case 'dynamodb:deleteItem':
        return this.deleteItem(params);
      case 'dynamodb:getItem':
        return this.getItem(params);
      case 'dynamodb:updateItem':
        return this.updateItem(params, resource.endsWith('.waitForTaskToken'));
      default:
        throw new Error(`world: ${service}:${action} is not modelled`);
    }
  }

  // --- the AWS SDK v3 face (task functions) -----------------------------------------------------------

  /**
   * An RDSClient stand-in in `region`, answering the commands the task functions send with SDK v3
   * names (`DBInstanceIdentifier`, `DBInstanceNotFoundFault`). Like the SDK, it makes up to
   * `maxAttempts` attempts on a retryable error (throttling, 5xx, a timeout or network error).
   */
  rdsClient(options: SdkClientOptions = {}): {
    send(command: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown>;
  } {
    const region = options.region ?? this.region;
    const maxAttempts = options.maxAttempts ?? 1;
    return {
      send: async (command) => {
        const op = command.constructor.name.replace(/Command$/, '');
        for (let attempt = 1; ; attempt++) {
          try {
            return this.sdkCall(region, op, command.input);
          } catch (err) {
            if (attempt >= maxAttempts || !sdkRetryable(err)) throw err;
            this.advance(Math.min(20, 2 ** attempt));
          }
        }
      },
    };
  }

  private sdkCall(region: string, op: string, input: Record<string, unknown>): unknown {
    this.tick(`sdk:${op}`);
    const key = `sdk:${op}`;
    const attempt = this.sdkCalls[key] ?? 0;
    this.sdkCalls[key] = attempt + 1;
    const fault = faultFor(this.sdkFaults, key, attempt);
    if (fault) this.sdkInjected += 1;
    if (fault?.kind === 'unreachable') this.unreachable.add(region);
    if (this.unreachable.has(region)) throw sdkFaultError('unreachable', op, region);
    if (fault && !appliesCall(fault)) throw sdkFaultError(fault.kind, op, region);
    let result: unknown;
    try {
      result = this.sdkApply(region, op, input);
    } catch (err) {
      throw sdkName(err);
    }
    if (fault) throw sdkFaultError(fault.kind, op, region);
    return result;
  }

  private sdkApply(region: string, op: string, input: Record<string, unknown>): unknown {
    const p = new Params(input, `sdk:${op}`);
    const instance = (id: string) => {
      const i = this.describeInstance(id);
      return {
        DBInstanceIdentifier: i.DbInstanceIdentifier,
        DBInstanceArn: this.instanceArn(id),
        DBInstanceStatus: i.DbInstanceStatus,
        EngineVersion: ENGINE_VERSION,
        DBClusterIdentifier: i.DbClusterIdentifier,
        Endpoint: i.Endpoint,
        ReadReplicaSourceDBInstanceIdentifier: i.ReadReplicaSourceDBInstanceIdentifier,
        // Its read replicas: by identifier in its region, by ARN in another (as RDS lists them).
        ReadReplicaDBInstanceIdentifiers: [...this.instances.values()]
          .filter((r) => r.replicaOf === id)
          .map((r) => (r.region === this.instances.get(id)!.region ? r.id : this.instanceArn(r.id))),
        VpcSecurityGroups: this.instances.get(id)!.securityGroups.map((g) => ({ VpcSecurityGroupId: g })),
        TagList: i.TagList,
      };
    };
    const cluster = (id: string) => {
      const c = this.describeCluster(id);
      return {
        DBClusterIdentifier: c.DbClusterIdentifier,
        DBClusterArn: this.clusterArn(id),
        Status: c.Status,
        EngineVersion: ENGINE_VERSION,
        Endpoint: c.Endpoint,
        TagList: c.TagList,
        DBClusterMembers: c.DbClusterMembers.map((m) => ({ DBInstanceIdentifier: m.DbInstanceIdentifier })),
      };
    };
    switch (op) {
      case 'DescribeDBInstances':
        return { DBInstances: [instance(p.need('DBInstanceIdentifier'))] };
      case 'DescribeDBClusters':
        return { DBClusters: [cluster(p.need('DBClusterIdentifier'))] };
      case 'DescribeGlobalClusters': {
        const id = p.need('GlobalClusterIdentifier');
        const g = this.globalClusters.get(id);
        if (!g) throw rdsFault('GlobalClusterNotFound', `global cluster ${id} not found`);
        return {
          GlobalClusters: [
            {
              GlobalClusterIdentifier: id,
              Status: this.globalStatus(id),
              EngineVersion: ENGINE_VERSION,
              GlobalClusterMembers: g.members.map((m) => ({
                DBClusterArn: this.clusterArn(m),
                IsWriter: m === g.writer,
              })),
            },
          ],
        };
      }
      case 'CreateDBInstanceReadReplica': {
        const id = p.need('DBInstanceIdentifier');
        const source = p.need('SourceDBInstanceIdentifier').replace(/^arn:aws:rds:[^:]+:\d+:db:/, '');
        if (!this.instances.has(source))
          throw rdsFault('DbInstanceNotFound', `source DBInstance ${source} not found`);
        this.createInstance(p, id, { region, replicaOf: source, clusterId: null });
        return { DBInstance: instance(id) };
      }
      case 'CreateDBCluster': {
        const id = p.need('DBClusterIdentifier');
        if (this.clusters.has(id))
          throw rdsFault('DbClusterAlreadyExists', `DB cluster ${id} already exists`);
        const globalId = p.get('GlobalClusterIdentifier') as string | undefined;
        const g = globalId ? this.globalClusters.get(globalId) : undefined;
        if (globalId && !g) throw rdsFault('GlobalClusterNotFound', `global cluster ${globalId} not found`);
        const tags = (p.get('Tags') as Tag[] | undefined) ?? [];
        this.clusters.set(id, {
          id,
          engine: 'aurora-postgresql',
          tags,
          createdBy: creatorOf(tags) ?? 'untagged',
          availableAt: this.now + Math.round(this.options.restoreSeconds / 2),
          deletingUntil: null,
          globalClusterId: globalId ?? null,
          region,
          securityGroups: ['sg-app'],
        });
        this.creations.push({ kind: 'cluster', id, createdBy: creatorOf(tags) ?? 'untagged' });
        g?.members.push(id);
        return { DBCluster: cluster(id) };
      }
      case 'CreateDBInstance':
        this.createClusterInstance(p);
        return { DBInstance: instance(p.need('DBInstanceIdentifier')) };
      case 'DeleteDBInstance':
        this.deleteInstance(p.need('DBInstanceIdentifier'));
        return { DBInstance: instance(p.need('DBInstanceIdentifier')) };
      case 'DeleteDBCluster':
        this.deleteCluster(p.need('DBClusterIdentifier'));
        return { DBCluster: cluster(p.need('DBClusterIdentifier')) };
      case 'RemoveFromGlobalCluster': {
        const globalId = p.need('GlobalClusterIdentifier');
        const g = this.globalClusters.get(globalId);
        if (!g) throw rdsFault('GlobalClusterNotFound', `global cluster ${globalId} not found`);
        const arn = p.need('DbClusterIdentifier');
        const member = g.members.find((m) => m === arn || this.clusterArn(m) === arn);
        if (!member) throw rdsFault('GlobalClusterNotFound', `${arn} is not a member of ${globalId}`);
        if (member === g.writer)
          throw rdsFault('InvalidGlobalClusterState', `${member} is the writer of ${globalId}`);
        g.members = g.members.filter((m) => m !== member);
        const c = this.clusters.get(member);
        if (c) c.globalClusterId = null;
        return { GlobalCluster: { GlobalClusterIdentifier: globalId } };
      }
      case 'ModifyDBInstance': {
        const id = p.need('DBInstanceIdentifier');
        const i = this.instances.get(id);
        if (!i) throw rdsFault('DbInstanceNotFound', `DBInstance ${id} not found`);
        if (i.deletingUntil !== null)
          throw rdsFault('InvalidDbInstanceState', `DB instance ${id} is being deleted`);
        const groups = p.get('VpcSecurityGroupIds') as string[] | undefined;
        if (groups) i.securityGroups = [...groups];
        return { DBInstance: instance(id) };
      }
      case 'ModifyDBCluster': {
        const id = p.need('DBClusterIdentifier');
        const c = this.clusters.get(id);
        if (!c) throw rdsFault('DbClusterNotFound', `DBCluster ${id} not found`);
        const groups = p.get('VpcSecurityGroupIds') as string[] | undefined;
        if (groups) c.securityGroups = [...groups];
        return { DBCluster: cluster(id) };
      }
      default:
        throw new Error(`world: SDK command ${op} is not modelled`);
    }
  }

  /** The PostgreSQL server behind `identifier`, as core/restore/restore-target.ts sees it. */
  server(identifier: string, actor: string): DatabaseServer {
    const dbs = () => {
      const found = this.servers.get(identifier);
      if (!found || this.instanceStatus(identifier) !== 'available')
        throw awsError('DatabaseUnreachable', `cannot connect to ${identifier}`);
      return found;
    };
    return {
      markOf: async (name) => {
        const db = dbs().get(name);
        return db === undefined ? undefined : db.mark;
      },
      create: async (name) => {
        if (dbs().has(name)) return 'exists';
        dbs().set(name, { mark: null, rows: 0, createdBy: actor });
        return 'created';
      },
      setMark: async (name, mark) => {
        const db = dbs().get(name);
        if (db) db.mark = mark;
      },
      drop: async (name) => {
        const db = dbs().get(name);
        if (!db) return;
        dbs().delete(name);
        this.removals.push({
          kind: 'database',
          id: `${identifier}/${name}`,
          createdBy: db.createdBy,
          at: this.now,
        });
      },
    };
  }

  // --- RDS model -------------------------------------------------------------------------------------

  private tick(op: string): void {
    this.now += 1;
    this.settle();
    this.applied.push({ op, at: this.now });
  }

  /** Deletions that have finished remove the resource. */
  private settle(): void {
    for (const [id, i] of this.instances)
      if (i.deletingUntil !== null && this.now >= i.deletingUntil) this.instances.delete(id);
    for (const [id, c] of this.clusters)
      if (c.deletingUntil !== null && this.now >= c.deletingUntil) this.clusters.delete(id);
  }

  private creator(p: Params): string {
    const tags = (p.get('Tags') as Tag[] | undefined) ?? [];
    return tags.find((t) => t.Key === 'lifeboat:created-by')?.Value ?? 'untagged';
  }

  private snapshot(p: Params): string {
    const id = p.need('DBSnapshotIdentifier');
    if (this.snapshots.get(id) !== 'instance')
      throw rdsFault('DbSnapshotNotFound', `DBSnapshot ${id} not found`);
    return id;
  }

  private clusterSnapshot(p: Params): string {
    const id = p.need('SnapshotIdentifier');
    if (this.snapshots.get(id) !== 'cluster')
      throw rdsFault('DbClusterSnapshotNotFound', `DBClusterSnapshot ${id} not found`);
    return id;
  }

  private pitrSource(p: Params): string {
    const id = p.need('SourceDBInstanceIdentifier');
    if (!this.instances.has(id)) throw rdsFault('DbInstanceNotFound', `DBInstance ${id} not found`);
    return id;
  }

  private clusterPitrSource(p: Params): string {
    const id = p.need('SourceDBClusterIdentifier');
    if (!this.clusters.has(id)) throw rdsFault('DbClusterNotFound', `DBCluster ${id} not found`);
    return id;
  }

  private restoreInstance(p: Params, id: string, from: string) {
    this.createInstance(p, id, { region: this.region, replicaOf: null, clusterId: null, restoredFrom: from });
    return this.describeInstance(id);
  }

  /** A new instance (restored, a read replica, or a cluster's), creating until restoreSeconds pass. */
  private createInstance(
    p: Params,
    id: string,
    where: { region: string; replicaOf: string | null; clusterId: string | null; restoredFrom?: string },
    availableAt = this.now + this.options.restoreSeconds,
  ): void {
    if (this.instances.has(id)) throw rdsFault('DbInstanceAlreadyExists', `DB instance ${id} already exists`);
    this.instances.set(id, {
      id,
      engine: where.clusterId ? 'aurora-postgresql' : 'postgres',
      clusterId: where.clusterId,
      tags: (p.get('Tags') as Tag[] | undefined) ?? [],
      createdBy: this.creator(p),
      createdAt: this.now,
      availableAt,
      endsAs: this.options.restoreEndsAs,
      deletingUntil: null,
      replicaOf: where.replicaOf,
      promotedAt: null,
      restoredFrom: where.restoredFrom ?? where.clusterId ?? where.replicaOf,
      region: where.region,
      securityGroups: ['sg-app'],
    });
    this.creations.push({ kind: 'instance', id, createdBy: this.creator(p) });
  }

  private restoreCluster(p: Params, _from: string) {
    const id = p.need('DBClusterIdentifier');
    if (this.clusters.has(id)) throw rdsFault('DbClusterAlreadyExists', `DB cluster ${id} already exists`);
    this.clusters.set(id, {
      id,
      engine: 'aurora-postgresql',
      tags: (p.get('Tags') as Tag[] | undefined) ?? [],
      createdBy: this.creator(p),
      availableAt: this.now + Math.round(this.options.restoreSeconds / 2),
      deletingUntil: null,
      globalClusterId: null,
      region: this.region,
      securityGroups: ['sg-app'],
    });
    this.creations.push({ kind: 'cluster', id, createdBy: this.creator(p) });
    return this.describeCluster(id);
  }

  private createClusterInstance(p: Params) {
    const id = p.need('DBInstanceIdentifier');
    const clusterId = p.need('DBClusterIdentifier');
    const cluster = this.clusters.get(clusterId);
    if (!cluster) throw rdsFault('DbClusterNotFound', `DBCluster ${clusterId} not found`);
    if (cluster.deletingUntil !== null)
      throw rdsFault('InvalidDbClusterState', `DB cluster ${clusterId} is being deleted`);
    this.createInstance(
      p,
      id,
      { region: cluster.region, replicaOf: null, clusterId },
      Math.max(cluster.availableAt, this.now) + Math.round(this.options.restoreSeconds / 2),
    );
    return this.describeInstance(id);
  }

  private describeInstance(id: string) {
    const i = this.instances.get(id);
    if (!i) throw rdsFault('DbInstanceNotFound', `DBInstance ${id} not found`);
    const status = this.instanceStatus(id)!;
    return {
      DbInstanceIdentifier: id,
      DbInstanceStatus: status,
      Engine: i.engine,
      DbClusterIdentifier: i.clusterId ?? undefined,
      ReadReplicaSourceDBInstanceIdentifier: i.replicaOf ?? undefined,
      TagList: i.tags,
      ...(status === 'creating' ? {} : { Endpoint: { Address: this.endpointOf(id), Port: 5432 } }),
    };
  }

  private describeCluster(id: string) {
    const c = this.clusters.get(id);
    if (!c) throw rdsFault('DbClusterNotFound', `DBCluster ${id} not found`);
    return {
      DbClusterIdentifier: id,
      Status: this.clusterStatus(id),
      Engine: c.engine,
      Endpoint: this.clusterEndpointOf(id),
      TagList: c.tags,
      DbClusterMembers: [...this.instances.values()]
        .filter((i) => i.clusterId === id)
        .map((i) => ({ DbInstanceIdentifier: i.id })),
    };
  }

  private deleteInstance(id: string) {
    const i = this.instances.get(id);
    if (!i) throw rdsFault('DbInstanceNotFound', `DBInstance ${id} not found`);
    if (i.deletingUntil !== null || this.now < i.availableAt)
      throw rdsFault('InvalidDbInstanceState', `DB instance ${id} is not in available state`);
    i.deletingUntil = this.now + this.options.deleteSeconds;
    this.removals.push({ kind: 'instance', id, createdBy: i.createdBy, at: this.now });
    return this.describeInstance(id);
  }

  private deleteCluster(id: string) {
    const c = this.clusters.get(id);
    if (!c) throw rdsFault('DbClusterNotFound', `DBCluster ${id} not found`);
    const members = [...this.instances.values()].filter((i) => i.clusterId === id);
    if (c.deletingUntil !== null || this.now < c.availableAt || members.length > 0)
      throw rdsFault('InvalidDbClusterState', `DB cluster ${id} is not in available state or has instances`);
    if (c.globalClusterId !== null)
      throw rdsFault(
        'InvalidDbClusterState',
        `DB cluster ${id} is a member of global cluster ${c.globalClusterId}: remove it first`,
      );
    c.deletingUntil = this.now + this.options.deleteSeconds;
    this.removals.push({ kind: 'cluster', id, createdBy: c.createdBy, at: this.now });
    return this.describeCluster(id);
  }

  private promote(id: string) {
    const i = this.instances.get(id);
    if (!i) throw rdsFault('DbInstanceNotFound', `DBInstance ${id} not found`);
    if (i.replicaOf === null)
      throw rdsFault('InvalidDbInstanceState', `DB instance ${id} is not a read replica`);
    i.replicaOf = null;
    i.promotedAt = this.now + this.options.promoteSeconds;
    this.promotions.push({ how: 'promote-read-replica', id, at: this.now });
    return this.describeInstance(id);
  }

  /**
   * Switchover (planned: needs the current writer's region, loses nothing) or failover with data
   * loss (unplanned: works without it). The target is the writer from the request on; the global
   * cluster is busy (switching-over / failing-over) for two minutes, then available.
   */
  private switchWriter(globalId: string, target: string, how: 'switching-over' | 'failing-over') {
    const g = this.globalClusters.get(globalId);
    if (!g) throw rdsFault('GlobalClusterNotFound', `global cluster ${globalId} not found`);
    const member = g.members.find((m) => m === target || target.endsWith(`:cluster:${m}`));
    if (!member) throw rdsFault('DbClusterNotFound', `${target} is not a member of ${globalId}`);
    if (this.now < g.busyUntil)
      throw rdsFault('InvalidGlobalClusterState', `global cluster ${globalId} is ${g.transition}`);
    if (member === g.writer)
      throw rdsFault('InvalidGlobalClusterState', `${member} is already the writer of ${globalId}`);
    const writerRegion = this.clusters.get(g.writer)?.region;
    if (how === 'switching-over' && writerRegion !== undefined && this.unreachable.has(writerRegion))
      throw rdsFault(
        'InvalidGlobalClusterState',
        `switchover needs the writer ${g.writer}, which does not answer: use a failover with data loss`,
      );
    g.writer = member;
    g.busyUntil = this.now + this.options.promoteSeconds;
    g.transition = how;
    this.promotions.push({ how, id: member, at: this.now });
    return { GlobalClusterIdentifier: globalId, Status: how };
  }

  // --- Route 53, SNS, DynamoDB ------------------------------------------------------------------------

  private changeRecords(params: Record<string, unknown>) {
    const batch = params.ChangeBatch as {
      Changes: {
        Action: string;
        ResourceRecordSet: { Name: string; ResourceRecords: { Value: string }[] };
      }[];
    };
    for (const change of batch.Changes) {
      if (change.Action !== 'UPSERT') throw awsError('Route53.InvalidChangeBatchException', change.Action);
      this.records.set(change.ResourceRecordSet.Name, change.ResourceRecordSet.ResourceRecords[0]!.Value);
    }
    const id = `/change/C${++this.changeSeq}`;
    this.changes.set(id, { id, submittedAt: this.now });
    return { Id: id, Status: 'PENDING' };
  }

  private getChange(id: string) {
    const change = this.changes.get(id);
    if (!change) throw awsError('Route53.NoSuchChangeException', `no change ${id}`);
    const synced = this.now - change.submittedAt >= this.options.dnsSyncSeconds;
    return { Id: id, Status: synced ? 'INSYNC' : 'PENDING' };
  }

  private publish(params: Record<string, unknown>) {
    const raw = params.Message;
    const message = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Record<string, unknown>;
    this.published.push({ topicArn: String(params.TopicArn), message, at: this.now });
    return { MessageId: `m-${this.published.length}` };
  }

  private table(params: Record<string, unknown>) {
    const name = String(params.TableName);
    let t = this.tables.get(name);
    if (!t) this.tables.set(name, (t = new Map()));
    return t;
  }

  private putItem(params: Record<string, unknown>) {
    const item = params.Item as Record<string, { S?: string }>;
    const key = Object.values(item)[0]!.S!;
    const t = this.table(params);
    const condition = String(params.ConditionExpression ?? '');
    const existing = t.get(key) as Record<string, { S?: string }> | undefined;
    const me = (params.ExpressionAttributeValues as Record<string, { S?: string }> | undefined)?.[':me']?.S;
    // `attribute_not_exists(k) OR executionId = :me`: the holder may put its own item again.
    const mine =
      /OR executionId = :me/.test(condition) && me !== undefined && existing?.executionId?.S === me;
    if (condition.startsWith('attribute_not_exists') && existing !== undefined && !mine)
      throw awsError('DynamoDB.ConditionalCheckFailedException', 'The conditional request failed');
    t.set(key, item);
    return {};
  }

  /**
   * UpdateItem under `executionId = :me` (the approval gate stores its task token in the lock item).
   * With a task token, the Task then waits for the world's approval answer.
   */
  private updateItem(params: Record<string, unknown>, waitsForToken: boolean) {
    const keyAttr = params.Key as Record<string, { S?: string }>;
    const key = Object.values(keyAttr)[0]!.S!;
    const t = this.table(params);
    const existing = t.get(key) as Record<string, { S?: string }> | undefined;
    const values = (params.ExpressionAttributeValues ?? {}) as Record<string, { S?: string }>;
    const me = values[':me']?.S;
    if (me !== undefined && existing?.executionId?.S !== me)
      throw awsError('DynamoDB.ConditionalCheckFailedException', 'The conditional request failed');
    if (existing && values[':token']) t.set(key, { ...existing, approvalToken: values[':token'] });
    if (!waitsForToken) return {};
    this.advance(this.approval.afterSeconds);
    switch (this.approval.decision) {
      case 'approve':
        return { approvedBy: 'on-call', at: `t+${this.now}s` };
      case 'abort':
        throw awsError('FailoverAborted', 'aborted by on-call: the primary came back');
      case 'none':
        throw awsError('States.Timeout', 'The task timed out: nobody approved or aborted');
    }
  }

  private getItem(params: Record<string, unknown>) {
    const keyAttr = params.Key as Record<string, { S?: string }>;
    const item = this.table(params).get(Object.values(keyAttr)[0]!.S!);
    return item === undefined ? {} : { Item: item };
  }

  private deleteItem(params: Record<string, unknown>) {
    const keyAttr = params.Key as Record<string, { S?: string }>;
    const key = Object.values(keyAttr)[0]!.S!;
    const t = this.table(params);
    const existing = t.get(key) as Record<string, { S?: string }> | undefined;
    const values = (params.ExpressionAttributeValues ?? {}) as Record<string, { S?: string }>;
    const me = values[':me']?.S;
    if (existing && me !== undefined && existing.executionId?.S !== me)
      throw awsError('DynamoDB.ConditionalCheckFailedException', 'The conditional request failed');
    t.delete(key);
    return {};
  }
}

function creatorOf(tags: readonly Tag[]): string | undefined {
  return tags.find((t) => t.Key === 'lifeboat:created-by')?.Value;
}

/** An RDS error of the Step Functions face (`Rds.DbInstanceNotFoundException`) under its SDK v3 name. */
function sdkName(err: unknown): Error {
  const e = err as Error;
  if (!e.name.startsWith('Rds.')) return e;
  const shape = e.name.replace(/^Rds\./, '').replace(/Exception$/, '');
  e.name = `${shape.replace(/Db/g, 'DB')}Fault`;
  Object.assign(e, { $fault: 'client', $metadata: { httpStatusCode: /NotFound/.test(shape) ? 404 : 400 } });
  return e;
}

/** What an SDK v3 call fails with, for each kind of fault. */
function sdkFaultError(kind: FaultKind, op: string, region: string): Error {
  const what = `injected ${kind} at sdk:${op}`;
  const fail = (name: string, message: string, status: number, extra: Record<string, unknown> = {}) =>
    Object.assign(awsError(name, message), { $metadata: { httpStatusCode: status }, ...extra });
  switch (kind) {
    case 'throttle':
    case 'lambda-throttle':
      return fail('Throttling', `Rate exceeded (${what})`, 400, {
        $fault: 'client',
        $retryable: { throttling: true },
      });
    case '5xx':
    case 'lost':
      return fail('InternalFailure', `An internal error occurred (${what})`, 500, { $fault: 'server' });
    case 'timeout':
      return Object.assign(awsError('TimeoutError', `Connection timed out after 5000 ms (${what})`), {
        code: 'ETIMEDOUT',
      });
    case 'unreachable':
      return Object.assign(awsError('Error', `getaddrinfo ENOTFOUND rds.${region}.amazonaws.com (${what})`), {
        code: 'ENOTFOUND',
      });
    case 'denied':
      return fail('AccessDenied', `User is not authorized to perform: rds:${op} (${what})`, 403, {
        $fault: 'client',
      });
  }
}

/** Whether the SDK's standard retry strategy tries the call again. */
function sdkRetryable(err: unknown): boolean {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  return (
    e.name === 'Throttling' ||
    e.name === 'TimeoutError' ||
    (e.$metadata?.httpStatusCode ?? 0) >= 500 ||
    /ECONNRESET|ETIMEDOUT|ENOTFOUND/.test(e.code ?? '')
  );
}

/**
 * Parameters of a service integration. Step Functions names fields after the Java SDK v2; the
 * world looks them up case-insensitively so that it models AWS's behaviour, while the field names
 * themselves are checked against the SDK models elsewhere.
 */
class Params {
  constructor(
    private readonly params: Record<string, unknown>,
    private readonly op: string,
  ) {}

  get(name: string): unknown {
    const key = Object.keys(this.params).find((k) => k.toLowerCase() === name.toLowerCase());
    return key === undefined ? undefined : this.params[key];
  }

  need(name: string): string {
    const value = this.get(name);
    if (typeof value !== 'string' || !value)
      throw awsError('States.Runtime', `world: ${this.op} without ${name} (${JSON.stringify(this.params)})`);
    return value;
  }
}
