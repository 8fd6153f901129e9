import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV as COPY_ENV } from '../../functions/copy-snapshot/env.ts';
import { ENV as PRUNE_ENV } from '../../functions/prune/env.ts';
import { ENV as TAKE_ENV } from '../../functions/take-snapshot/env.ts';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import { type SynthesizedEnvironment, synthesizeEnvironment } from './support.ts';
import {
  actionsOf,
  arnOf,
  onlyResource,
  resourcesOf,
  roleOfFunction,
  type Statement,
  statementsOfRole,
} from './template-helpers.ts';

// staging protects an RDS instance (orders) and a large Aurora cluster (ledger).
const config = loadEnvironmentConfig('staging');
const orders = config.databases.find((db) => db.name === 'orders')!;
const ledger = config.databases.find((db) => db.name === 'ledger')!;
const account = config.account;
const region = config.primaryRegion;
const dr = config.drRegion;

/** Statements of the role of the function whose description contains `what`. */
function functionStatements(template: Template, what: string): { fn: string; statements: Statement[] } {
  const fn = onlyResource(template, 'AWS::Lambda::Function', { Description: Match.stringLikeRegexp(what) });
  return { fn, statements: statementsOfRole(template, roleOfFunction(template, fn)) };
}

function statementWith(statements: Statement[], action: string): Statement {
  const found = statements.filter((s) => actionsOf(s).includes(action));
  expect(found, action).toHaveLength(1);
  return found[0]!;
}

/** Resources of a statement as plain strings (Fn::Join of literal parts and AWS::Partition). */
function arnsOf(statement: Statement): string[] {
  return resourcesOf(statement).map((r) => {
    if (typeof r === 'string') return r;
    const join = (r as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (!join) return JSON.stringify(r);
    return join[1]
      .map((p) =>
        typeof p === 'string'
          ? p
          : JSON.stringify(p) === '{"Ref":"AWS::Partition"}'
            ? 'aws'
            : JSON.stringify(p),
      )
      .join(join[0]);
  });
}

/** The Fargate dump workflow: the state machine whose ECS task state is "Dump". */
function dumpWorkflow(template: Template): string {
  const found = Object.entries(template.findResources('AWS::StepFunctions::StateMachine'))
    .filter(([, m]) => {
      const definition = JSON.stringify(m.Properties.DefinitionString);
      return definition.includes('ecs:runTask') && definition.includes('\\"Dump\\"');
    })
    .map(([id]) => id);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe('scheduled backups (staging)', () => {
  let env: SynthesizedEnvironment;
  let template: Template;

  beforeAll(() => {
    env = synthesizeEnvironment('staging');
    template = env.primaryTemplate;
  });
  afterAll(() => env.dispose());

  describe('schedules', () => {
    it('take a snapshot of each database in its policy time zone, flexible window off, slot in the input', () => {
      for (const db of [orders, ledger]) {
        const policy = db.policySettings;
        template.hasResourceProperties('AWS::Scheduler::Schedule', {
          ScheduleExpression: policy.snapshot.cron,
          ScheduleExpressionTimezone: policy.snapshot.timeZone,
          FlexibleTimeWindow: { Mode: 'OFF' },
          State: 'ENABLED',
          Target: Match.objectLike({
            Input: JSON.stringify({
              database: db.name,
              identifier: db.identifier,
              type: db.kind,
              policy: db.policy,
              scheduledTime: '<aws.scheduler.scheduled-time>',
            }),
          }),
        });
      }
    });

    it('start the dump Lambda function of a database that is not large, with its secret', () => {
      const { fn } = functionStatements(template, 'pg_dump of orders');

      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: config.policies.standard!.dump!.cron,
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: Match.objectLike({
          Arn: arnOf(fn),
          Input: JSON.stringify({
            database: 'orders',
            secretArn: orders.secretArn,
            dbname: 'orders',
            compression: 'zstd:2',
          }),
        }),
      });
    });

    it('start the Fargate workflow of a large database', () => {
      const machine = dumpWorkflow(template);

      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: config.policies.standard!.dump!.cron,
        Target: Match.objectLike({ Arn: { Ref: machine } }),
      });
    });

    it('run prune daily, and send what they cannot deliver to a dead-letter queue', () => {
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: config.pruneSchedule.cron,
        Target: Match.objectLike({ Input: JSON.stringify({ dryRun: false }) }),
      });
      const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule'));
      // Snapshot and dump of each database, prune and the report; on the verification schedule, each
      // database's restore test and the dump verification of each (orders in Lambda, ledger as a
      // Fargate task).
      expect(schedules).toHaveLength(10);
      for (const s of schedules)
        expect(s.Properties.Target.DeadLetterConfig).toEqual({ Arn: expect.anything() });
    });
  });

  describe('take-snapshot', () => {
    let statements: Statement[];
    let fn: string;

    beforeAll(() => {
      ({ fn, statements } = functionStatements(template, 'scheduled RDS/Aurora snapshots'));
    });

    it('reads its environment variables under the names the handler defines', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('scheduled RDS/Aurora snapshots'),
        Runtime: 'nodejs22.x',
        Environment: {
          Variables: Match.objectLike({
            [TAKE_ENV.environment]: 'staging',
            [TAKE_ENV.bucket]: Match.anyValue(),
          }),
        },
      });
      expect(fn).toBeTruthy();
    });

    it('may snapshot exactly the configured instance and cluster, into lifeboat- snapshots', () => {
      expect(arnsOf(statementWith(statements, 'rds:CreateDBSnapshot')).sort()).toEqual(
        [
          `arn:aws:rds:${region}:${account}:db:${orders.identifier}`,
          `arn:aws:rds:${region}:${account}:snapshot:lifeboat-*`,
        ].sort(),
      );
      expect(arnsOf(statementWith(statements, 'rds:CreateDBClusterSnapshot')).sort()).toEqual(
        [
          `arn:aws:rds:${region}:${account}:cluster:${ledger.identifier}`,
          `arn:aws:rds:${region}:${account}:cluster-snapshot:lifeboat-*`,
        ].sort(),
      );
    });

    it('has no delete or copy action, and * only where AWS offers nothing narrower', () => {
      const actions = statements.flatMap(actionsOf);

      expect(actions).toContain('s3:PutObject');
      expect(actions.filter((a) => /Delete|Copy/.test(a))).toEqual([]);
      const wildcard = statements
        .filter((s) => resourcesOf(s).includes('*'))
        .flatMap(actionsOf)
        .sort();
      expect(wildcard).toEqual([
        'rds:DescribeAccountAttributes',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
    });
  });

  describe('copy-snapshot', () => {
    let statements: Statement[];
    let fn: string;

    beforeAll(() => {
      ({ fn, statements } = functionStatements(template, 'copies lifeboat snapshots'));
    });

    it('routes RDS snapshot events of lifeboat- snapshots into an encrypted queue', () => {
      const queue = onlyResource(template, 'AWS::SQS::Queue', { VisibilityTimeout: 600 });

      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.rds'],
          'detail-type': ['RDS DB Snapshot Event', 'RDS DB Cluster Snapshot Event'],
          detail: { SourceIdentifier: [{ prefix: 'lifeboat-' }] },
        },
        Targets: [Match.objectLike({ Arn: arnOf(queue) })],
      });
      template.hasResourceProperties('AWS::SQS::Queue', {
        VisibilityTimeout: 600,
        KmsMasterKeyId: Match.anyValue(),
        RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 288 },
      });
    });

    it('consumes the queue reporting batch item failures, so waiting copies are retried, not failed', () => {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: fn },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    });

    it('gets the DR region, the DR key by alias and the in-flight limit under the handler names', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('copies lifeboat snapshots'),
        Environment: {
          Variables: Match.objectLike({
            [COPY_ENV.environment]: 'staging',
            [COPY_ENV.bucket]: Match.anyValue(),
            [COPY_ENV.drRegion]: dr,
            [COPY_ENV.drKmsKeyArn]: `arn:aws:kms:${dr}:${account}:alias/lifeboat-staging-backup`,
            [COPY_ENV.maxInFlightCopies]: String(config.snapshotCopies.maxInFlight),
          }),
        },
      });
    });

    it('may copy only lifeboat- snapshots, from the primary into the DR region', () => {
      expect(arnsOf(statementWith(statements, 'rds:CopyDBSnapshot')).sort()).toEqual(
        [
          `arn:aws:rds:${region}:${account}:snapshot:lifeboat-*`,
          `arn:aws:rds:${dr}:${account}:snapshot:lifeboat-*`,
        ].sort(),
      );
      expect(arnsOf(statementWith(statements, 'rds:CopyDBClusterSnapshot')).sort()).toEqual(
        [
          `arn:aws:rds:${region}:${account}:cluster-snapshot:lifeboat-*`,
          `arn:aws:rds:${dr}:${account}:cluster-snapshot:lifeboat-*`,
        ].sort(),
      );
      expect(
        statements.flatMap(actionsOf).filter((a) => a.includes('Delete') && a.startsWith('rds:')),
      ).toEqual([]);
    });

    it('uses * only for actions that take no resource ARN', () => {
      const wildcard = statements
        .filter((s) => resourcesOf(s).includes('*'))
        .flatMap(actionsOf)
        .sort();

      expect(wildcard).toEqual([
        'rds:DescribeDBClusterSnapshots',
        'rds:DescribeDBSnapshots',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
    });

    it('may use KMS keys only through RDS, and in the DR region only the lifeboat key', () => {
      const kms = statements.filter((s) => actionsOf(s).includes('kms:CreateGrant'));

      expect(kms).toHaveLength(2);
      for (const s of kms) expect(s.Condition?.StringEquals).toHaveProperty('kms:ViaService');
      const drStatement = kms.find((s) => arnsOf(s)[0]!.includes(`:kms:${dr}:`))!;
      expect(drStatement.Condition).toMatchObject({
        'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/lifeboat-staging-backup' },
      });
    });
  });

  describe('prune', () => {
    let statements: Statement[];

    beforeAll(() => {
      ({ statements } = functionStatements(template, 'daily retention'));
    });

    it('receives each database retention, with its snapshot time zone, as JSON', () => {
      const fn = onlyResource(template, 'AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('daily retention'),
      });
      const variables = template.toJSON().Resources[fn].Properties.Environment.Variables;

      expect(JSON.parse(variables[PRUNE_ENV.policies])).toEqual({
        orders: { ...config.policies.standard!.retention, timeZone: 'Europe/Dublin' },
        ledger: { ...config.policies.standard!.retention, timeZone: 'Europe/Dublin' },
      });
      expect(variables[PRUNE_ENV.drRegion]).toBe(dr);
      expect(variables[PRUNE_ENV.environment]).toBe('staging');
      expect(variables[PRUNE_ENV.bucket]).toEqual({ Ref: expect.any(String) });
    });

    it('may delete only lifeboat- snapshots, in both regions', () => {
      expect(arnsOf(statementWith(statements, 'rds:DeleteDBSnapshot')).sort()).toEqual(
        [
          `arn:aws:rds:${region}:${account}:snapshot:lifeboat-*`,
          `arn:aws:rds:${dr}:${account}:snapshot:lifeboat-*`,
        ].sort(),
      );
      expect(arnsOf(statementWith(statements, 'rds:DeleteDBClusterSnapshot')).sort()).toEqual(
        [
          `arn:aws:rds:${region}:${account}:cluster-snapshot:lifeboat-*`,
          `arn:aws:rds:${dr}:${account}:cluster-snapshot:lifeboat-*`,
        ].sort(),
      );
    });

    it('uses * only for actions that take no resource ARN', () => {
      const wildcard = statements
        .filter((s) => resourcesOf(s).includes('*'))
        .flatMap(actionsOf)
        .sort();

      expect(wildcard).toEqual([
        'rds:DescribeAccountAttributes',
        'rds:DescribeDBClusterSnapshots',
        'rds:DescribeDBSnapshots',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
    });

    it('cannot delete object versions or bypass Object Lock', () => {
      const actions = statements.flatMap(actionsOf);

      expect(actions).toContain('s3:DeleteObject');
      expect(
        actions.filter((a) => /DeleteObjectVersion|BypassGovernance|PutObjectRetention|s3:\*/.test(a)),
      ).toEqual([]);
    });
  });

  describe('large database dump on Fargate', () => {
    it('runs the task and waits for it (.sync), logged and traced', () => {
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        DefinitionString: Match.objectLike({
          'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':states:::ecs:runTask.sync')])],
        }),
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
      });
    });

    it('runs the dump image on arm64 with the event of its database, with task storage for the dump directory', () => {
      template.hasResourceProperties('AWS::ECS::TaskDefinition', {
        RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
        EphemeralStorage: { SizeInGiB: 200 },
        ContainerDefinitions: [
          Match.objectLike({
            EntryPoint: ['/var/lang/bin/node'],
            Command: ['/var/task/task-runner.mjs'],
            Environment: Match.arrayWith([
              {
                Name: 'LIFEBOAT_EVENT',
                // The task dumps with pg_dump -Fd -j 2; the Lambda dump streams one archive.
                Value: JSON.stringify({
                  database: 'ledger',
                  secretArn: ledger.secretArn,
                  compression: 'zstd:2',
                  jobs: 2,
                }),
              },
            ]),
          }),
        ],
      });
    });

    it('lets the task read only the secret of its database, and decrypt it through Secrets Manager', () => {
      const taskDef =
        template.toJSON().Resources[
          onlyResource(template, 'AWS::ECS::TaskDefinition', {
            ContainerDefinitions: Match.arrayWith([Match.objectLike({ Name: 'dump' })]),
          })
        ];
      const taskRole = taskDef.Properties.TaskRoleArn['Fn::GetAtt'][0];
      const secret = statementsOfRole(template, taskRole).filter((s) =>
        actionsOf(s).includes('secretsmanager:GetSecretValue'),
      );

      expect(secret.map(resourcesOf)).toEqual([[ledger.secretArn]]);
      const decrypt = statementsOfRole(template, taskRole).filter(
        (s) => actionsOf(s).includes('kms:Decrypt') && resourcesOf(s).includes(ledger.secretKmsKeyArn),
      );
      expect(decrypt).toHaveLength(1);
      expect(decrypt[0]!.Condition).toEqual({
        StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' },
      });
    });
  });

  describe('large database dump verified on Fargate', () => {
    let taskDefinition: string;
    beforeAll(() => {
      taskDefinition = onlyResource(template, 'AWS::ECS::TaskDefinition', {
        ContainerDefinitions: Match.arrayWith([Match.objectLike({ Name: 'verify' })]),
      });
    });

    it('runs the verify image one-shot runner with room for the restored database', () => {
      template.hasResourceProperties('AWS::ECS::TaskDefinition', {
        EphemeralStorage: { SizeInGiB: 200 },
        RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
        ContainerDefinitions: [
          Match.objectLike({
            Name: 'verify',
            EntryPoint: ['/usr/local/bin/node'],
            Command: ['/var/task/task-runner.mjs'],
            Environment: Match.arrayWith([
              { Name: 'LIFEBOAT_EVENT', Value: JSON.stringify({ database: 'ledger', backupId: 'latest' }) },
            ]),
          }),
        ],
      });
    });

    it('is started on the verification schedule of its database', () => {
      const machines = Object.entries(template.findResources('AWS::StepFunctions::StateMachine')).filter(
        ([, m]) => JSON.stringify(m.Properties.DefinitionString).includes('\\"Verify\\"'),
      );
      expect(machines).toHaveLength(1);
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: ledger.policySettings.verification.cron,
        Target: Match.objectLike({ Arn: { Ref: machines[0]![0] } }),
      });
    });

    it('reads dumps and the catalog, appends catalog records, and reads no database secret', () => {
      const taskDef = template.toJSON().Resources[taskDefinition];
      const statements = statementsOfRole(template, taskDef.Properties.TaskRoleArn['Fn::GetAtt'][0]);

      expect(statements.filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'))).toEqual([]);
      expect(statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:Delete')))).toEqual([]);
      const writes = statements.filter((s) => actionsOf(s).includes('s3:PutObject'));
      expect(writes.length).toBeGreaterThan(0);
      for (const s of writes) expect(JSON.stringify(resourcesOf(s))).toContain('catalog/*');
    });
  });

  describe('alarms', () => {
    it('alarm at 80 % of the manual snapshot quota, on the metric take-snapshot emits', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'Lifeboat',
        MetricName: 'ManualSnapshotQuotaUsedPercent',
        Dimensions: [{ Name: 'Environment', Value: 'staging' }],
        Threshold: 80,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [{ Ref: onlyResource(template, 'AWS::SNS::Topic') }],
      });
    });

    it('alarm on any message in a dead-letter queue', () => {
      const alarms = template.findResources('AWS::CloudWatch::Alarm', {
        Properties: { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 },
      });

      expect(Object.keys(alarms)).toHaveLength(2);
    });

    it('alarm when a database has had no completed logical backup for 26 h (warning) and 48 h (critical)', () => {
      for (const db of [orders, ledger]) {
        const alarms = template.findResources('AWS::CloudWatch::Alarm', {
          Properties: {
            Namespace: 'Lifeboat',
            MetricName: 'BackupSucceeded',
            // CloudFormation order is alphabetical; the set is exactly these two.
            Dimensions: [
              { Name: 'Database', Value: db.name },
              { Name: 'Environment', Value: 'staging' },
            ],
          },
        });
        const shape = Object.values(alarms)
          .map((a) => a.Properties)
          .map((p) => [
            p.EvaluationPeriods,
            p.DatapointsToAlarm,
            p.Period,
            p.ComparisonOperator,
            p.TreatMissingData,
          ]);

        expect(shape.sort()).toEqual([
          [26, 26, 3600, 'LessThanThreshold', 'breaching'],
          [48, 48, 3600, 'LessThanThreshold', 'breaching'],
        ]);
      }
    });

    it('alarm on failed, timed-out and throttled executions of the dump workflow', () => {
      const machine = dumpWorkflow(template);
      const alarms = template.findResources('AWS::CloudWatch::Alarm', {
        Properties: {
          Namespace: 'AWS/States',
          Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: machine } }],
        },
      });

      expect(
        Object.values(alarms)
          .map((a) => a.Properties.MetricName)
          .sort(),
      ).toEqual(['ExecutionThrottled', 'ExecutionsFailed', 'ExecutionsTimedOut']);
    });

    it('notify an encrypted topic with the configured e-mail subscribers', () => {
      template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
      template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: config.notifications.emails[0],
      });
    });
  });
});

describe('discovery', () => {
  // dev with discovery on: every database tagged lifeboat:policy=<policy> gets that policy's snapshots.
  const input = { ...ENVIRONMENTS.dev!, discovery: { tagKey: 'lifeboat:policy' } };
  const devConfig = loadEnvironmentConfig('dev', { dev: input });
  let env: SynthesizedEnvironment;
  let template: Template;

  beforeAll(() => {
    env = synthesizeEnvironment('dev', input);
    template = env.primaryTemplate;
  });
  afterAll(() => env.dispose());

  it('schedules a discovery snapshot per policy, at its snapshot times, leaving out configured databases and their names', () => {
    const { fn } = functionStatements(template, 'scheduled RDS/Aurora snapshots');
    for (const [name, policy] of Object.entries(devConfig.policies)) {
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: policy.snapshot.cron,
        ScheduleExpressionTimezone: policy.snapshot.timeZone,
        Target: Match.objectLike({
          Arn: arnOf(fn),
          Input: JSON.stringify({
            discover: {
              policy: name,
              tagKey: 'lifeboat:policy',
              exclude: devConfig.databases.map((db) => db.identifier),
              names: devConfig.databases.map((db) => db.name),
            },
            scheduledTime: '<aws.scheduler.scheduled-time>',
          }),
        }),
      });
    }
  });

  it('lets take-snapshot snapshot only databases whose tag names a configured policy', () => {
    const { statements } = functionStatements(template, 'scheduled RDS/Aurora snapshots');
    const policies = Object.keys(devConfig.policies);
    for (const [action, tag] of [
      ['rds:CreateDBSnapshot', 'rds:db-tag/lifeboat:policy'],
      ['rds:CreateDBClusterSnapshot', 'rds:cluster-tag/lifeboat:policy'],
    ] as const) {
      const onDatabases = statements.filter(
        (s) => actionsOf(s).includes(action) && arnsOf(s).some((a) => /:(db|cluster):\*$/.test(a)),
      );
      expect(onDatabases, action).toHaveLength(1);
      expect(onDatabases[0]!.Condition).toEqual({ StringEquals: { [tag]: policies } });
      // The database wildcard never comes without the tag condition.
      expect(arnsOf(onDatabases[0]!)).toHaveLength(1);
    }
    expect(env.violations).toEqual([]);
  });

  it('gives prune the retention of each policy for the databases it finds by tag', () => {
    const fn = onlyResource(template, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('daily retention'),
    });
    const variables = template.toJSON().Resources[fn].Properties.Environment.Variables;

    expect(Object.keys(JSON.parse(variables[PRUNE_ENV.policiesByName])).sort()).toEqual(
      Object.keys(devConfig.policies).sort(),
    );
  });
});
