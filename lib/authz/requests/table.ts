import { artifactKey, manifestKey } from '../../../functions/core/catalog/catalog.ts';
import { snapshotIdentifier } from '../../../functions/core/snapshots/snapshot-naming.ts';
import type { Database, EnvironmentConfig } from '../../config/schema.ts';
import { backupBucketName, lockTableName } from '../../naming.ts';
import { CATALOG_PREFIX, METRICS_NAMESPACE } from '../../../functions/core/contracts/index.ts';

/**
 * Every AWS request the deployed system makes — by its functions, Fargate tasks and workflows,
 * and by AWS services on its behalf (alarm → topic, rule → queue/function, SNS → notifier,
 * replication → DR bucket and key, CloudWatch Logs → its key) — as an authorization request:
 * who asks, which IAM action, on which resource ARN (as the code builds it), with which context
 * keys. The same table is evaluated offline against the synthesized policies (test/authz) and
 * asked of AWS itself after deploy (`lifeboat doctor`).
 *
 * Enumerated from the code paths of each handler and each workflow state (not from mock
 * histories): a request is listed once per distinct (principal, action, resource shape).
 * Resources of the stacks are written `{{primary:LogicalIdPrefix}}` / `{{dr:...}}` (CDK's
 * logical id without its hash); `{{...#stream}}` is a log stream of a log group.
 */
export interface AuthzRequest {
  /** The stack the principal (role or the service's source) belongs to. */
  readonly stack: Side;
  /** A role's logical-id prefix in that stack, or an AWS service principal (`*.amazonaws.com`). */
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string | string[]>>;
  /** The database it concerns, when one does (doctor groups findings by it). */
  readonly database?: string;
  /** What makes the request: handler, workflow state, or service path (or, forbidden, the rule). */
  readonly why: string;
}

export interface AuthzTable {
  readonly expected: readonly AuthzRequest[];
  /** Requests that must never be allowed. */
  readonly forbidden: readonly AuthzRequest[];
}

export type Side = 'primary' | 'dr';
export type Context = Readonly<Record<string, string | string[]>>;

export const isService = (p: string): boolean => p.endsWith('.amazonaws.com');

/** The schedule slot every deterministic name of the table is built for. */
const SLOT = new Date('2026-11-23T02:00:00Z');
/** A backup id as the dumps name them. */
export const BACKUP_ID = '20261123T020000Z-abcd';
export const TLS = { 'aws:SecureTransport': 'true' } as const;

/**
 * One principal of one stack: the rows it adds share stack, principal, the database given to
 * `of`, and the label that starts each expected row's `why` (`<label>: <what it does>`).
 */
export class Caller {
  constructor(
    private readonly t: TableBuilder,
    readonly side: Side,
    readonly principal: string,
    /** Starts the `why` of expected rows; without it `why` is taken as written. */
    readonly label?: string,
    readonly database?: string,
  ) {}

  /** The same principal, its rows about `database`. */
  of(database: string | undefined): Caller {
    return new Caller(this.t, this.side, this.principal, this.label, database);
  }

  /** The same principal under another label (none: each `why` as written). */
  as(label: string | undefined): Caller {
    return new Caller(this.t, this.side, this.principal, label, this.database);
  }

  /** Expected requests: one row per action. */
  allow(actions: string | readonly string[], resource: string, why: string, context?: Context): void {
    for (const action of [actions].flat()) {
      this.t.expected.push(this.row(action, resource, this.label ? `${this.label}: ${why}` : why, context));
    }
  }

  /** Requests that must be denied; `why` says the rule. */
  never(actions: string | readonly string[], resource: string, why: string, context?: Context): void {
    for (const action of [actions].flat()) this.t.forbidden.push(this.row(action, resource, why, context));
  }

  private row(action: string, resource: string, why: string, context?: Context): AuthzRequest {
    return {
      stack: this.side,
      principal: this.principal,
      action,
      resource,
      ...(context ? { context } : {}),
      ...(this.database !== undefined ? { database: this.database } : {}),
      why,
    };
  }
}

/** What the S3 repository lets a principal do (functions/core/repository/s3.ts with SSE-KMS). */
export interface RepositoryUse {
  readonly catalogRead?: boolean;
  readonly catalogAppend?: boolean;
  readonly artifactRead?: boolean;
  readonly artifactWrite?: boolean;
}

/**
 * The environment's names (buckets, keys, topics, RDS ARNs) and the calls many principals make
 * alike (their log group, the repository, the topic, a dead-letter queue, a secret).
 */
export class TableBuilder {
  readonly expected: AuthzRequest[] = [];
  readonly forbidden: AuthzRequest[] = [];
  readonly account: string;
  readonly regions: Readonly<Record<Side, string>>;

  constructor(
    readonly environment: string,
    readonly config: EnvironmentConfig,
  ) {
    this.account = config.account;
    this.regions = { primary: config.primaryRegion, dr: config.drRegion };
  }

  table(): AuthzTable {
    return { expected: this.expected, forbidden: this.forbidden };
  }

  caller(side: Side, principal: string, label?: string): Caller {
    return new Caller(this, side, principal, label);
  }

  /**
   * The role of a Lambda function (`<Function>Role`), which writes the function's own log group
   * (`<Function>LogGroup`). Once per function and region.
   */
  fn(side: Side, principal: string, label: string): Caller {
    const c = this.caller(side, principal, label);
    this.logs(c, principal.replace(/Role$/, 'LogGroup'));
    return c;
  }

  // --- names ------------------------------------------------------------------------------------
  bucketArn(side: Side): string {
    const name = backupBucketName({
      environment: this.environment,
      account: this.account,
      region: this.regions[side],
    });
    return `arn:aws:s3:::${name}`;
  }
  /** A catalog record of `db` in the region's bucket. */
  catalogObject(side: Side, db: string): string {
    return `${this.bucketArn(side)}/${manifestKey(db, 'x').replace(/manifest\.json$/, 'records/r.json')}`;
  }
  /** A dump artifact of `db` in the region's bucket. */
  artifactObject(side: Side, db: string, backupId = BACKUP_ID): string {
    return `${this.bucketArn(side)}/${artifactKey(db, backupId)}`;
  }
  rds(side: Side, type: string, name: string): string {
    return `arn:aws:rds:${type === 'global-cluster' ? '' : this.regions[side]}:${this.account}:${type}:${name}`;
  }
  /** The database itself (an instance or a cluster). */
  rdsDatabase(side: Side, db: Pick<Database, 'kind'>, name: string): string {
    return this.rds(side, db.kind === 'instance' ? 'db' : 'cluster', name);
  }
  /** The lifeboat snapshot of `db` for the table's slot. */
  snapshotArn(side: Side, db: Database): string {
    return this.rds(
      side,
      db.kind === 'instance' ? 'snapshot' : 'cluster-snapshot',
      snapshotIdentifier(db.identifier, SLOT, db.kind),
    );
  }
  slackSecret(side: Side): string | undefined {
    return side === 'primary'
      ? this.config.notifications.slackWebhookSecretArn
      : this.config.notifications.drSlackWebhookSecretArn;
  }
  /** The region's topic lifeboat publishes to (the events topic with Slack, the alarm topic without). */
  topic(side: Side): string {
    return this.slackSecret(side) ? `{{${side}:NotificationsTopic}}` : `{{${side}:MonitoringAlarmTopic}}`;
  }
  opsKey(side: Side): string {
    return `{{${side}:OperationsKey}}`;
  }
  vaultKey(side: Side): string {
    return `{{${side}:VaultKey}}`;
  }
  /** The DR region's lock table (failover locks and the canary's heartbeats). */
  lockTable(): string {
    return `arn:aws:dynamodb:${this.regions.dr}:${this.account}:table/${lockTableName(this.environment)}`;
  }
  alarmArn(side: Side, name: string): string {
    return `arn:aws:cloudwatch:${this.regions[side]}:${this.account}:alarm:${name}`;
  }
  via(service: string, side: Side): Context {
    return { 'kms:ViaService': `${service}.${this.regions[side]}.amazonaws.com` };
  }
  /** A service acting for a resource of this account (aws:SourceArn / aws:SourceAccount). */
  source(arn: string): Context {
    return { 'aws:SourceArn': arn, 'aws:SourceAccount': this.account };
  }

  // --- calls many principals make alike ---------------------------------------------------------
  /** Writes to its own log group (every Lambda function, Fargate task, workflow log delivery). */
  logs(c: Caller, logGroup: string): void {
    c.allow('logs:PutLogEvents', `{{${c.side}:${logGroup}#stream}}`, 'writes its own log group');
  }

  /** S3 repository use with SSE-KMS (functions/core/repository/s3.ts); `c` is of one database. */
  repo(c: Caller, access: RepositoryUse): void {
    const db = c.database!;
    const catalog = this.catalogObject(c.side, db);
    const artifact = this.artifactObject(c.side, db);
    const s3kms = (action: string, object: string) =>
      c.allow(
        action,
        this.vaultKey(c.side),
        `SSE-KMS of ${object.includes('/catalog/') ? 'a catalog record' : 'an artifact'}`,
        { ...this.via('s3', c.side), 'kms:EncryptionContext:aws:s3:arn': object },
      );
    c.allow('s3:ListBucket', this.bucketArn(c.side), 'lists the catalog', {
      ...TLS,
      's3:prefix': `${CATALOG_PREFIX}${db}/`,
    });
    if (access.catalogRead || access.catalogAppend) {
      c.allow('s3:GetObject', catalog, 'reads (and heads) catalog records', TLS);
      s3kms('kms:Decrypt', catalog);
    }
    if (access.catalogAppend) {
      c.allow('s3:PutObject', catalog, 'writes a catalog record once', TLS);
      s3kms('kms:GenerateDataKey', catalog);
    }
    if (access.artifactRead) {
      c.allow('s3:GetObject', artifact, 'reads a dump', TLS);
      s3kms('kms:Decrypt', artifact);
    }
    if (access.artifactWrite) {
      c.allow(
        ['s3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject'],
        artifact,
        'streams a dump (multipart), aborts or removes a partial one',
        TLS,
      );
      s3kms('kms:GenerateDataKey', artifact);
      s3kms('kms:Decrypt', artifact);
    }
  }

  /** What no holder of repository access may do: delete a catalog record or any version. */
  appendOnly(c: Caller): void {
    c.never(
      's3:DeleteObject',
      `${this.bucketArn(c.side)}/catalog/orders/x/manifest.json`,
      'the catalog is append-only: nobody deletes a record',
      TLS,
    );
    c.never(
      's3:DeleteObjectVersion',
      `${this.bucketArn(c.side)}/${artifactKey('orders', 'x')}`,
      'no version is ever deleted (Object Lock)',
      TLS,
    );
  }

  /** Publishing an event to the region's encrypted topic. */
  publish(c: Caller): void {
    c.allow('sns:Publish', this.topic(c.side), 'publishes an event', TLS);
    c.allow(
      ['kms:GenerateDataKey', 'kms:Decrypt'],
      this.opsKey(c.side),
      'the topic is KMS-encrypted',
      this.via('sns', c.side),
    );
  }

  /** Lambda sends a failed asynchronous event to the function's encrypted dead-letter queue with its role. */
  deadLetter(c: Caller, queue: string): void {
    c.allow(
      'sqs:SendMessage',
      `{{${c.side}:${queue}}}`,
      'Lambda sends a failed event to the dead-letter queue',
      TLS,
    );
    c.allow(
      ['kms:GenerateDataKey', 'kms:Decrypt'],
      this.opsKey(c.side),
      'the dead-letter queue is KMS-encrypted',
      this.via('sqs', c.side),
    );
  }

  /**
   * An AWS service delivering to an encrypted queue, or invoking a function, on behalf of one
   * source (its rule or topic): allowed for that source, refused for another source of this
   * account and for one of another account (the queue policy or Lambda permission must name it).
   */
  delivery(
    side: Side,
    service: 'events.amazonaws.com' | 'sns.amazonaws.com',
    target: { queue: string } | { fn: string },
    sourceArn: string,
    why: string,
    database?: string,
  ): void {
    const c = this.caller(side, service).of(database);
    const source = this.source(sourceArn);
    const kind = service === 'sns.amazonaws.com' ? 'sns' : 'events';
    const other = (account: string) =>
      kind === 'sns'
        ? `arn:aws:sns:${this.regions[side]}:${account}:another-topic`
        : `arn:aws:events:${this.regions[side]}:${account}:rule/another-rule`;
    const [action, resource, context] =
      'queue' in target
        ? (['sqs:SendMessage', `{{${side}:${target.queue}}}`, TLS] as const)
        : (['lambda:InvokeFunction', `{{${side}:${target.fn}}}`, {}] as const);
    c.allow(action, resource, why, { ...context, ...source });
    if ('queue' in target) {
      c.allow(['kms:GenerateDataKey', 'kms:Decrypt'], this.opsKey(side), `${why} (KMS-encrypted)`, source);
    }
    c.never(action, resource, `${why}: no other ${kind === 'sns' ? 'topic' : 'rule'} of the account`, {
      ...context,
      ...this.source(other(this.account)),
    });
    c.never(action, resource, `${why}: nothing of another account`, {
      ...context,
      'aws:SourceArn': other('999999999999'),
      'aws:SourceAccount': '999999999999',
    });
  }

  /** Reads a secret (and its customer-managed key through Secrets Manager). */
  secret(c: Caller, arn: string, key: string | undefined, what: string): void {
    c.allow('secretsmanager:GetSecretValue', arn, what, TLS);
    if (key) {
      c.allow(
        'kms:Decrypt',
        key,
        `${what} (customer-managed secret key)`,
        this.via('secretsmanager', c.side),
      );
    }
  }

  /** Lambda attaches a function in a VPC (by default: of the workflow network) with its role. */
  vpc(c: Caller, attached = this.config.workflowNetwork !== undefined): void {
    if (attached) {
      this.caller(c.side, c.principal).allow(
        'ec2:CreateNetworkInterface',
        '*',
        'Lambda attaches the function to the workflow network with its role',
      );
    }
  }

  /**
   * A Fargate job (lib/constructs/fargate-job.ts) of the primary region, `job` its construct path
   * (`DumpTask<db>Job`): its workflow runs the task (.sync) and counts a success; Fargate pulls
   * the image and ships the logs with the execution role.
   */
  fargateJob(job: string, database: string, what: string): void {
    const { account, regions } = this;
    const region = regions.primary;
    const sm = this.caller('primary', `${job}StateMachineRole`, `${what} workflow`);
    sm.of(database).allow('ecs:RunTask', `{{primary:${job}TaskDefinition}}`, 'ecs:runTask.sync');
    for (const role of [`${job}TaskDefinitionTaskRole`, `${job}TaskDefinitionExecutionRole`]) {
      sm.of(database).allow(
        'iam:PassRole',
        `{{primary:${role}}}`,
        'RunTask passes the task and execution roles',
        { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
      );
    }
    sm.allow(
      ['events:PutRule', 'events:PutTargets', 'events:DescribeRule'],
      `arn:aws:events:${region}:${account}:rule/StepFunctionsGetEventsForECSTaskRule`,
      '.sync waits through the ECS events rule Step Functions manages',
    );
    sm.allow('ecs:DescribeTasks', '*', '.sync polls the task');
    sm.allow('ecs:StopTask', '*', '.sync stops the task when the execution stops');
    sm.of(database).allow('cloudwatch:PutMetricData', '*', 'CountSuccess (the Lifeboat namespace only)', {
      'cloudwatch:namespace': METRICS_NAMESPACE,
    });
    const ex = this.caller(
      'primary',
      `${job}TaskDefinitionExecutionRole`,
      `${what} of ${database} (awslogs driver)`,
    );
    this.logs(ex, `${job}LogGroup`);
    const pull = ex.as(undefined);
    pull.allow('ecr:GetAuthorizationToken', '*', `Fargate pulls the ${what} image`);
    pull.allow(
      ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
      // The image asset's repository (CDK's default bootstrap qualifier).
      `arn:aws:ecr:${region}:${account}:repository/cdk-hnb659fds-container-assets-${account}-${region}`,
      `Fargate pulls the ${what} image's layers`,
    );
  }

  /** A Scheduler schedule (the schedules role) → its target. */
  schedule(side: Side, action: string, target: string, database: string | undefined, why: string): void {
    this.caller(side, 'SchedulesRole', 'Scheduler').of(database).allow(action, target, why);
  }
}
