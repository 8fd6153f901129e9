import type { DatabaseServer } from '../../functions/core/restore/restore-target.ts';

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

/** An error named the way a Task state sees it (its name is the ASL error). */
export function awsError(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

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
}

interface GlobalCluster {
  id: string;
  writer: string;
  members: string[];
  busyUntil: number;
}

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

  /** An instance that existed before the run (the operator's): available, untagged. */
  addInstance(id: string, extra: { replicaOf?: string; clusterId?: string; engine?: string } = {}): void {
    this.instances.set(id, {
      id,
      engine: extra.engine ?? 'postgres',
      clusterId: extra.clusterId ?? null,
      tags: [],
      createdBy: OPERATOR,
      createdAt: -1,
      availableAt: 0,
      endsAs: null,
      deletingUntil: null,
      replicaOf: extra.replicaOf ?? null,
      promotedAt: null,
      restoredFrom: null,
    });
  }

  addCluster(id: string, extra: { globalClusterId?: string; region?: string } = {}): void {
    this.clusters.set(id, {
      id,
      engine: 'aurora-postgresql',
      tags: [],
      createdBy: OPERATOR,
      availableAt: 0,
      deletingUntil: null,
      globalClusterId: extra.globalClusterId ?? null,
      region: extra.region ?? this.region,
    });
  }

  addGlobalCluster(id: string, writer: string, members: string[]): void {
    this.globalClusters.set(id, { id, writer, members, busyUntil: 0 });
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

  /** Instances and clusters `executionName` created that still exist and are not being deleted. */
  leftBy(executionName: string): { instances: string[]; clusters: string[] } {
    const alive = <T extends { createdBy: string; deletingUntil: number | null }>(m: Map<string, T>) =>
      [...m.entries()]
        .filter(([, r]) => r.createdBy === executionName && r.deletingUntil === null)
        .map(([id]) => id);
    return { instances: alive(this.instances), clusters: alive(this.clusters) };
  }

  endpointOf(id: string): string {
    return `${id}.c0ffee.${this.region}.rds.amazonaws.com`;
  }

  clusterEndpointOf(id: string): string {
    return `${id}.cluster-c0ffee.${this.region}.rds.amazonaws.com`;
  }

  // --- Step Functions service integrations ------------------------------------------------------------

  /** Answers a Task state whose Resource is a service integration (not a Lambda function). */
  sfn(resource: string, params: Record<string, unknown>): unknown {
    const match = /^arn:aws:states:::(?:aws-sdk:)?([a-z0-9]+):([A-Za-z]+)(?:\.[a-zA-Z]+)?$/.exec(resource);
    if (!match) throw new Error(`world: no service integration ${resource}`);
    const [, service, action] = match as unknown as [string, string, string];
    this.tick(`${service}:${action}`);
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
      case 'rds:switchoverGlobalCluster':
        return {
          GlobalCluster: this.switchWriter(
            p.need('GlobalClusterIdentifier'),
            p.need('TargetDbClusterIdentifier'),
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
        return {};
      default:
        throw new Error(`world: ${service}:${action} is not modelled`);
    }
  }

  // --- the AWS SDK v3 face (task functions) -----------------------------------------------------------

  /** An RDSClient stand-in answering DescribeDBInstances / DescribeDBClusters. */
  rdsClient(): {
    send(command: { constructor: { name: string }; input: Record<string, string> }): Promise<unknown>;
  } {
    return {
      send: async (command) => {
        const name = command.constructor.name;
        this.tick(`sdk:${name}`);
        const sdkName = (err: unknown) => {
          const e = err as Error;
          const shape = e.name.replace(/^Rds\./, '').replace(/Exception$/, '');
          e.name = shape.replace(/^Db/, 'DB').replace(/Db/g, 'DB') + 'Fault';
          return e;
        };
        try {
          if (name === 'DescribeDBInstancesCommand') {
            const i = this.describeInstance(command.input.DBInstanceIdentifier!);
            return {
              DBInstances: [
                {
                  DBInstanceIdentifier: i.DbInstanceIdentifier,
                  DBInstanceStatus: i.DbInstanceStatus,
                  Endpoint: i.Endpoint,
                  ReadReplicaSourceDBInstanceIdentifier: i.ReadReplicaSourceDBInstanceIdentifier,
                  TagList: i.TagList,
                },
              ],
            };
          }
          if (name === 'DescribeDBClustersCommand') {
            const c = this.describeCluster(command.input.DBClusterIdentifier!);
            return { DBClusters: [{ DBClusterIdentifier: c.DbClusterIdentifier, Status: c.Status }] };
          }
        } catch (err) {
          throw sdkName(err);
        }
        throw new Error(`world: SDK command ${name} is not modelled`);
      },
    };
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
    if (this.instances.has(id)) throw rdsFault('DbInstanceAlreadyExists', `DB instance ${id} already exists`);
    this.instances.set(id, {
      id,
      engine: 'postgres',
      clusterId: null,
      tags: (p.get('Tags') as Tag[] | undefined) ?? [],
      createdBy: this.creator(p),
      createdAt: this.now,
      availableAt: this.now + this.options.restoreSeconds,
      endsAs: this.options.restoreEndsAs,
      deletingUntil: null,
      replicaOf: null,
      promotedAt: null,
      restoredFrom: from,
    });
    return this.describeInstance(id);
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
    });
    return this.describeCluster(id);
  }

  private createClusterInstance(p: Params) {
    const id = p.need('DBInstanceIdentifier');
    const clusterId = p.need('DBClusterIdentifier');
    const cluster = this.clusters.get(clusterId);
    if (!cluster) throw rdsFault('DbClusterNotFound', `DBCluster ${clusterId} not found`);
    if (this.instances.has(id)) throw rdsFault('DbInstanceAlreadyExists', `DB instance ${id} already exists`);
    this.instances.set(id, {
      id,
      engine: 'aurora-postgresql',
      clusterId,
      tags: (p.get('Tags') as Tag[] | undefined) ?? [],
      createdBy: this.creator(p),
      createdAt: this.now,
      availableAt: Math.max(cluster.availableAt, this.now) + Math.round(this.options.restoreSeconds / 2),
      endsAs: this.options.restoreEndsAs,
      deletingUntil: null,
      replicaOf: null,
      promotedAt: null,
      restoredFrom: clusterId,
    });
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
    i.promotedAt = this.now + 120;
    return this.describeInstance(id);
  }

  private switchWriter(globalId: string, target: string) {
    const g = this.globalClusters.get(globalId);
    if (!g) throw rdsFault('GlobalClusterNotFound', `global cluster ${globalId} not found`);
    const member = g.members.find((m) => m === target || target.endsWith(`:cluster:${m}`));
    if (!member) throw rdsFault('DbClusterNotFound', `${target} is not a member of ${globalId}`);
    if (this.now < g.busyUntil)
      throw rdsFault('InvalidGlobalClusterState', `global cluster ${globalId} is busy`);
    g.writer = member;
    g.busyUntil = this.now + 120;
    return { GlobalClusterIdentifier: globalId, Status: 'failing-over' };
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
