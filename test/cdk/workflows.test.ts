import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFailoverTargets } from '../../functions/core/failover/failover.ts';
import { WF_ENV } from '../../functions/wf-common/env.ts';
import { REPLICA_ENV } from '../../functions/wf-create-replica/env.ts';
import type { EnvironmentConfig } from '../../lib/config/schema.ts';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import { VERIFY_IMAGE_HANDLERS } from '../../lib/constructs/verify-backup.ts';
import { backupBucketName, lockTableName, primaryUnwritableAlarmName } from '../../lib/naming.ts';
import { databaseSecrets, failoverDatabases, regionalSecrets } from '../../lib/recovery.ts';
import { LOCK_KEY_ATTRIBUTE } from '../../state-machines/failover.ts';
import { type SynthesizedEnvironment, synthesizeEnvironment } from './support.ts';
import {
  actionsOf,
  arnOf,
  resourcesOf,
  roleOfFunction,
  type Statement,
  statementsOfRole,
} from './template-helpers.ts';

/** CloudFormation JSON as `Template.toJSON()` types it. */
type Json = ReturnType<Template['toJSON']>;
interface Resource {
  Type: string;
  Properties: Json;
}

function resources(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.toJSON().Resources as Record<string, Resource>).filter(
    ([, r]) => r.Type === type,
  );
}

/** The logical id of the state machine whose ARN is published at `/lifeboat/<env>/workflows/<name>`. */
function stateMachineOf(template: Template, environment: string, name: string): string {
  const params = resources(template, 'AWS::SSM::Parameter').filter(
    ([, p]) => p.Properties.Name === `/lifeboat/${environment}/workflows/${name}`,
  );
  expect(params, name).toHaveLength(1);
  return (params[0]![1].Properties.Value as { Ref: string }).Ref;
}

/** Names of the workflows whose ARN parameters a template holds. */
function workflowNames(template: Template, environment: string): string[] {
  const prefix = `/lifeboat/${environment}/workflows/`;
  return resources(template, 'AWS::SSM::Parameter')
    .map(([, p]) => p.Properties.Name as string)
    .filter((n) => n.startsWith(prefix))
    .map((n) => n.slice(prefix.length))
    .sort();
}

/** A state machine's ASL, every CloudFormation token replaced by `<token>`. */
function aslOf(template: Template, logicalId: string): { States: Record<string, Json> } {
  const definition = template.toJSON().Resources[logicalId].Properties.DefinitionString;
  const text =
    typeof definition === 'string'
      ? definition
      : (definition['Fn::Join'][1] as unknown[]).map((p) => (typeof p === 'string' ? p : '<token>')).join('');
  return JSON.parse(text);
}

/** The one function whose POWERTOOLS_SERVICE_NAME is `service` (the handler folder's name). */
function functionOf(template: Template, service: string): [string, Resource] {
  const found = resources(template, 'AWS::Lambda::Function').filter(
    ([, f]) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === service,
  );
  expect(found, service).toHaveLength(1);
  return found[0]!;
}

/** Every statement of every inline policy of a template, with the policy it belongs to. */
function allStatements(template: Template): { policy: string; statement: Statement; all: Statement[] }[] {
  return resources(template, 'AWS::IAM::Policy').flatMap(([id, p]) => {
    const all = p.Properties.PolicyDocument.Statement as Statement[];
    return all.map((statement) => ({ policy: id, statement, all }));
  });
}

/** A resource rendered as text (tokens as `<...>`), to look for wildcards. */
function render(value: unknown): string {
  return JSON.stringify(value).replace(/\{"Ref":"([^"]+)"\}/g, '<$1>');
}

const WORKFLOW_FUNCTIONS = {
  restore: [
    'wf-validate-restore',
    'wf-resolve-restore-point',
    'wf-restore-dump',
    'wf-verify-restore',
    'wf-drop-restored-database',
    'wf-finish-restore',
  ],
  restoreTest: ['wf-plan-restore-test', 'wf-record-restore-test'],
  failover: [
    'wf-failover-preflight',
    'wf-fence',
    'wf-check-writable',
    'wf-verify-write',
    'wf-record-failover',
    'wf-alarm-start',
  ],
  failback: ['wf-plan-failback', 'wf-create-replica', 'wf-describe-replica', 'wf-delete-replica'],
};
/** Task functions that open connections to databases: they run in `workflowNetwork`. */
const CONNECTING = [
  'wf-resolve-restore-point',
  'wf-restore-dump',
  'wf-verify-restore',
  'wf-drop-restored-database',
];

describe.each(['dev', 'staging', 'prod'])('workflows of environment %s', (name) => {
  const config: EnvironmentConfig = loadEnvironmentConfig(name);
  const failingOver = failoverDatabases(config);
  let env: SynthesizedEnvironment;
  let primary: Template;
  let dr: Template;

  beforeAll(() => {
    env = synthesizeEnvironment(name);
    primary = env.primaryTemplate;
    dr = env.drTemplate;
  });
  afterAll(() => env?.dispose());
  // dev has no failover: the first test shows its DR stack has none of it.
  const itIfFailover = failingOver.length > 0 ? it : () => undefined;

  it('has no unacknowledged cdk-nag finding (AwsSolutions, NIST 800-53 R5)', () => {
    expect(env.violations).toEqual([]);
  });

  it('deploys restore and restore-test in the primary region, restore (and failover, failback) in the DR region', () => {
    expect(workflowNames(primary, name)).toEqual(['restore', 'restore-test']);
    expect(workflowNames(dr, name)).toEqual(
      failingOver.length > 0 ? ['failback', 'failover', 'restore'] : ['restore'],
    );
    for (const [template, workflow] of [
      [primary, 'restore'],
      [primary, 'restore-test'],
      [dr, 'restore'],
    ] as const) {
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: Match.objectLike({ Level: 'ALL' }),
      });
      expect(stateMachineOf(template, name, workflow)).toMatch(/StateMachine/);
    }
  });

  it('has each task function once per stack, with the handlers the workflows name', () => {
    for (const service of [
      ...WORKFLOW_FUNCTIONS.restore,
      ...WORKFLOW_FUNCTIONS.restoreTest,
      'verify-backup',
    ]) {
      functionOf(primary, service);
    }
    for (const service of WORKFLOW_FUNCTIONS.restore) functionOf(dr, service);
    const failoverServices = [...WORKFLOW_FUNCTIONS.failover, ...WORKFLOW_FUNCTIONS.failback];
    for (const service of failoverServices) {
      const count = resources(dr, 'AWS::Lambda::Function').filter(
        ([, f]) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === service,
      ).length;
      expect(count, service).toBe(failingOver.length > 0 ? 1 : 0);
    }
  });

  it('runs verify-backup and the dump restores from the one verify image, each with its own handler', () => {
    const [, verify] = functionOf(primary, 'verify-backup');
    const [, restoreDump] = functionOf(primary, 'wf-restore-dump');

    expect(verify.Properties.PackageType).toBe('Image');
    expect(verify.Properties.ImageConfig).toEqual({ Command: [VERIFY_IMAGE_HANDLERS.verifyBackup] });
    expect(restoreDump.Properties.ImageConfig).toEqual({ Command: [VERIFY_IMAGE_HANDLERS.restoreDump] });
    expect(restoreDump.Properties.Code).toEqual(verify.Properties.Code);
    expect(verify.Properties).toMatchObject({ Timeout: 900, EphemeralStorage: { Size: 10240 } });
    expect(verify.Properties.VpcConfig).toBeUndefined();
  });

  it('lets the archived-dump step ask S3 for a copy of an archived artifact, under artifacts/ only, in both regions', () => {
    for (const template of [primary, dr]) {
      const [, archived] = functionOf(template, 'wf-archived-dump');
      const statements = statementsOfRole(template, archived.Properties.Role['Fn::GetAtt'][0]);
      const restoring = statements.filter((s) => actionsOf(s).includes('s3:RestoreObject'));
      expect(restoring).toHaveLength(1);
      expect(actionsOf(restoring[0]!)).toEqual(['s3:RestoreObject']);
      const [resource] = resourcesOf(restoring[0]!) as [{ 'Fn::Join': [string, unknown[]] }];
      expect(resource['Fn::Join'][1].at(-1)).toBe('/artifacts/*');
    }
    // Nothing else in the application may start restores.
    for (const template of [primary, dr]) {
      const roles = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
        JSON.stringify(p).includes('s3:RestoreObject'),
      );
      expect(roles).toHaveLength(1);
    }
  });

  it('places the functions that connect to databases in the workflow network of their region', () => {
    for (const [template, network] of [
      [primary, config.workflowNetwork!.primary],
      [dr, config.workflowNetwork!.dr],
    ] as const) {
      const connecting = [
        ...CONNECTING,
        ...(template === dr && failingOver.length > 0 ? ['wf-verify-write'] : []),
      ];
      for (const service of connecting) {
        const [, fn] = functionOf(template, service);
        expect(fn.Properties.VpcConfig, service).toEqual({
          SubnetIds: network.subnetIds,
          SecurityGroupIds: [network.securityGroupId],
        });
      }
    }
  });

  it('restores in the DR region from the DR vault by name, without any reference to the primary stack', () => {
    const [, resolve] = functionOf(dr, 'wf-resolve-restore-point');
    const bucketRef = resolve.Properties.Environment.Variables[WF_ENV.bucket] as { Ref: string };
    const buckets = dr.toJSON().Resources;

    expect(buckets[bucketRef.Ref].Properties.BucketName).toBe(
      backupBucketName({ environment: name, account: config.account, region: config.drRegion }),
    );
    expect(JSON.stringify(dr.toJSON())).not.toMatch(/Fn::ImportValue|Lifeboat-[a-z]+-Primary/);
  });

  it('restore-tests into the configured isolated subnet group and security groups', () => {
    const asl = aslOf(primary, stateMachineOf(primary, name, 'restore-test'));
    const restore = asl.States.RestoreTestInstance!;

    expect(restore.Parameters).toMatchObject({
      DbSubnetGroupName: config.restoreTest!.subnetGroupName,
      VpcSecurityGroupIds: config.restoreTest!.securityGroupIds,
      DbInstanceClass: config.restoreTest!.instanceClass,
      PubliclyAccessible: false,
    });
  });

  it('schedules each database on its verification schedule: restore test, and dump verification when it fits Lambda', () => {
    const restoreTest = stateMachineOf(primary, name, 'restore-test');
    const [verifyId] = functionOf(primary, 'verify-backup');
    const schedules = resources(primary, 'AWS::Scheduler::Schedule').map(([, s]) => s.Properties);
    for (const db of config.databases) {
      const policy = db.policySettings;
      const ofDb = schedules.filter(
        (s) =>
          s.ScheduleExpression === policy.verification.cron &&
          JSON.parse(s.Target.Input).database === db.name,
      );
      const tests = ofDb.filter((s) => JSON.stringify(s.Target.Arn).includes(restoreTest));
      const dumps = ofDb.filter((s) => JSON.stringify(s.Target.Arn).includes(verifyId));

      expect(tests, db.name).toHaveLength(1);
      expect(tests[0]).toMatchObject({
        ScheduleExpressionTimezone: policy.verification.timeZone,
        FlexibleTimeWindow: { Mode: 'OFF' },
      });
      expect(JSON.parse(tests[0]!.Target.Input)).toEqual({ database: db.name });
      expect(dumps, db.name).toHaveLength(policy.dump && !db.large ? 1 : 0);
      if (dumps[0])
        expect(JSON.parse(dumps[0].Target.Input)).toEqual({ database: db.name, backupId: 'latest' });
    }
  });

  it('verifies every dump on a schedule, those of large databases as Fargate tasks: no warning', () => {
    const large = config.databases.filter((db) => db.large && db.policySettings.dump);
    const warnings = Annotations.fromStack(env.primary).findWarning(
      '*',
      Match.stringLikeRegexp('dumps of large databases'),
    );

    expect(warnings).toEqual([]);
    expect([...env.primary.verifyTasks.keys()].sort()).toEqual(large.map((db) => db.name).sort());
  });

  it('lets the workflow functions read exactly the configured database secrets of their region', () => {
    const allowed = {
      primary: new Set([
        ...regionalSecrets(config, 'primary').map((s) => s.secretArn),
        ...(config.notifications.slackWebhookSecretArn ? [config.notifications.slackWebhookSecretArn] : []),
      ]),
      dr: new Set([
        ...regionalSecrets(config, 'dr').map((s) => s.secretArn),
        ...(config.notifications.drSlackWebhookSecretArn
          ? [config.notifications.drSlackWebhookSecretArn]
          : []),
      ]),
    };
    for (const [template, region] of [
      [primary, 'primary'],
      [dr, 'dr'],
    ] as const) {
      const reads = allStatements(template).filter(({ statement }) =>
        actionsOf(statement).some((a) => /^secretsmanager:(GetSecretValue|\*)$/i.test(a)),
      );
      // dev names no DR secrets: nothing in its DR stack may read one.
      expect(reads.length > 0).toBe(allowed[region].size > 0);
      for (const { statement } of reads) {
        for (const resource of resourcesOf(statement)) {
          expect(typeof resource === 'string' && allowed[region].has(resource), render(resource)).toBe(true);
        }
      }
    }
    const [, verifyRestore] = functionOf(primary, 'wf-verify-restore');
    const roleStatements = statementsOfRole(primary, verifyRestore.Properties.Role['Fn::GetAtt'][0]);
    const secretStatement = roleStatements.find((s) =>
      actionsOf(s).includes('secretsmanager:GetSecretValue'),
    )!;
    expect(resourcesOf(secretStatement).sort()).toEqual(
      regionalSecrets(config, 'primary')
        .map((s) => s.secretArn)
        .sort(),
    );
  });

  it('never allows an RDS mutation on "*", and deletes on name patterns only of tagged resources', () => {
    for (const template of [primary, dr]) {
      for (const { statement, all, policy } of allStatements(template)) {
        if (statement.Effect !== 'Allow') continue;
        const mutations = actionsOf(statement).filter(
          (a) => a.toLowerCase().startsWith('rds:') && !/^rds:(describe|list)/i.test(a),
        );
        if (mutations.length === 0) continue;
        const wildcards = resourcesOf(statement).filter((r) => render(r).includes('*'));
        expect(resourcesOf(statement), `${policy}: ${mutations.join(',')}`).not.toContain('*');
        const deletes = mutations.filter((a) => /^rds:delete(dbinstance|dbcluster)$/i.test(a));
        if (deletes.length === 0 || wildcards.length === 0) continue;
        const tagConditioned = JSON.stringify(statement.Condition ?? {}).includes(
          'aws:ResourceTag/lifeboat:workflow',
        );
        const guarded = all.some(
          (s) =>
            s.Effect === 'Deny' &&
            deletes.every((d) => actionsOf(s).some((a) => a.toLowerCase() === d.toLowerCase())) &&
            JSON.stringify(s.Condition).includes('"StringNotEquals":{"aws:ResourceTag/lifeboat:workflow"'),
        );
        expect(tagConditioned || guarded, `${policy}: ${deletes.join(',')} on ${render(wildcards)}`).toBe(
          true,
        );
      }
    }
  });

  it('denies the restore workflows deleting any instance or cluster they did not tag as their own', () => {
    for (const [template, workflow] of [
      [primary, 'restore'],
      [primary, 'restore-test'],
      [dr, 'restore'],
    ] as const) {
      const machine = template.toJSON().Resources[stateMachineOf(template, name, workflow)];
      const statements = statementsOfRole(template, machine.Properties.RoleArn['Fn::GetAtt'][0]);

      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: ['rds:DeleteDBCluster', 'rds:DeleteDBInstance'],
          Condition: { StringNotEquals: { 'aws:ResourceTag/lifeboat:workflow': workflow } },
        }),
      );
    }
  });

  itIfFailover(
    'keeps failover locks in a table encrypted with the operations key, with point-in-time recovery',
    () => {
      const [[tableId, table]] = resources(dr, 'AWS::DynamoDB::Table') as [[string, Resource]];

      expect(table.Properties).toMatchObject({
        TableName: lockTableName(name),
        KeySchema: [{ AttributeName: LOCK_KEY_ATTRIBUTE, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      });
      const keyId = (table.Properties.SSESpecification.KMSMasterKeyId as { 'Fn::GetAtt': string[] })[
        'Fn::GetAtt'
      ][0]!;
      expect(dr.toJSON().Resources[keyId].Properties.Description).toMatch(/logs, queues and notifications/);
      const failover = stateMachineOf(dr, name, 'failover');
      expect(JSON.stringify(dr.toJSON().Resources[failover].Properties.DefinitionString)).toContain(tableId);
    },
  );

  itIfFailover(
    'starts a failover when the primary-unwritable alarm goes to ALARM, through wf-alarm-start',
    () => {
      const [starterId, starter] = functionOf(dr, 'wf-alarm-start');
      const rules = resources(dr, 'AWS::Events::Rule').map(([, r]) => r.Properties);
      for (const db of failingOver) {
        const alarmName = primaryUnwritableAlarmName(name, db.name);
        const matching = rules.filter((r) => JSON.stringify(r.EventPattern ?? {}).includes(`"${alarmName}"`));

        expect(matching, db.name).toHaveLength(1);
        // The primary canary construct builds the composite alarm under the same name, in this stack.
        dr.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', { AlarmName: alarmName });
        expect(matching[0]!.EventPattern).toEqual({
          source: ['aws.cloudwatch'],
          'detail-type': ['CloudWatch Alarm State Change'],
          detail: { alarmName: [alarmName], state: { value: ['ALARM'] } },
        });
        const [target] = matching[0]!.Targets;
        expect(target.Arn).toEqual(arnOf(starterId));
        expect(target.DeadLetterConfig).toBeDefined();
        const template = JSON.parse(
          target.InputTransformer.InputTemplate.replace(/<([A-Za-z-]+)>/g, '"<$1>"'),
        );
        expect(template).toEqual({
          database: db.name,
          alarmName: '<detail-alarmName>',
          state: '<detail-state-value>',
          time: '<time>',
        });
      }
      expect(starter.Properties.Environment.Variables[WF_ENV.failoverStateMachineArn]).toEqual({
        Ref: stateMachineOf(dr, name, 'failover'),
      });
      const starts = statementsOfRole(dr, roleOfFunction(dr, starterId)).filter((s) =>
        actionsOf(s).includes('states:StartExecution'),
      );
      expect(starts.map((s) => s.Resource)).toEqual([{ Ref: stateMachineOf(dr, name, 'failover') }]);
    },
  );

  itIfFailover('gates alarm-started failovers unless automaticFailover is set', () => {
    const asl = aslOf(dr, stateMachineOf(dr, name, 'failover'));

    expect((asl.States.Configure!.Parameters as { config: unknown }).config).toEqual({
      automaticFailover: config.automaticFailover,
      environment: name,
    });
  });

  itIfFailover('tells preflight and failback exactly the configured failover targets', () => {
    for (const service of ['wf-failover-preflight', 'wf-plan-failback']) {
      const [, fn] = functionOf(dr, service);
      const targets = parseFailoverTargets(fn.Properties.Environment.Variables[WF_ENV.failoverTargets]);

      expect(targets.map((t) => t.database)).toEqual(failingOver.map((db) => db.name));
      for (const [i, db] of failingOver.entries()) {
        expect(targets[i]).toMatchObject({
          kind: db.kind,
          primary: { region: config.primaryRegion, identifier: db.identifier },
          replica: { region: config.drRegion, identifier: db.failover.replicaIdentifier },
          maxLagSeconds: db.failover.maxLagSeconds,
          secretArn: db.drSecretArn,
        });
        expect(targets[i]!.dns).toEqual(db.failover.dns);
      }
    }
    const [, create] = functionOf(dr, 'wf-create-replica');
    expect(create.Properties.Environment.Variables).toMatchObject({
      [REPLICA_ENV.subnetGroup]: config.failback!.subnetGroupName,
      [REPLICA_ENV.instanceClass]: config.failback!.instanceClass,
    });
  });

  itIfFailover('promotes only the configured replicas and global databases', () => {
    const machine = dr.toJSON().Resources[stateMachineOf(dr, name, 'failover')];
    const statements = statementsOfRole(dr, machine.Properties.RoleArn['Fn::GetAtt'][0]);
    const deny = (action: string) =>
      statements.find((s) => s.Effect === 'Deny' && actionsOf(s).includes(action)) as
        (Statement & { NotResource?: unknown }) | undefined;
    const instances = failingOver.filter((db) => db.kind === 'instance');
    const clusters = failingOver.filter((db) => db.kind === 'cluster');

    const promote = deny('rds:PromoteReadReplica')!;
    if (instances.length > 0) {
      const allowed = render(promote.NotResource);
      for (const db of instances) {
        expect(allowed).toContain(
          `:rds:${config.drRegion}:${config.account}:db:${db.failover.replicaIdentifier}"`,
        );
      }
      expect(allowed).not.toContain('*');
    } else {
      expect(promote.Resource).toBe('*');
    }
    const global = deny('rds:FailoverGlobalCluster')!;
    expect(actionsOf(global)).toContain('rds:SwitchoverGlobalCluster');
    for (const db of clusters) {
      expect(render(global.NotResource)).toContain(`:global-cluster:${db.failover.globalClusterIdentifier}`);
    }
    expect(render(global.NotResource)).not.toContain(':global-cluster:*');
  });

  itIfFailover('fences only the configured primaries, and only those with a fence group', () => {
    const [fenceId] = functionOf(dr, 'wf-fence');
    const modifies = statementsOfRole(dr, roleOfFunction(dr, fenceId)).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('rds:Modify')),
    );
    const fenced = failingOver.filter((db) => db.failover.fenceSecurityGroupId);
    const resourcesText = render(modifies.flatMap((s) => resourcesOf(s)));

    expect(modifies.length > 0).toBe(fenced.length > 0);
    for (const db of fenced) {
      const kind = db.kind === 'instance' ? 'db' : 'cluster';
      expect(resourcesText).toContain(
        `:rds:${config.primaryRegion}:${config.account}:${kind}:${db.identifier}"`,
      );
    }
    expect(resourcesText).not.toContain('*');
  });

  itIfFailover('lets failback delete only the replicas it created and tagged', () => {
    const [deleteId] = functionOf(dr, 'wf-delete-replica');
    const deletes = statementsOfRole(dr, roleOfFunction(dr, deleteId)).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('rds:Delete')),
    );

    expect(deletes).toHaveLength(1);
    expect(deletes[0]!.Condition).toEqual({
      StringEquals: { 'aws:ResourceTag/lifeboat:workflow': 'failback' },
    });
    for (const resource of resourcesOf(deletes[0]!)) {
      expect(render(resource)).toMatch(
        new RegExp(`:rds:${config.primaryRegion}:\\d+:(db|cluster):[a-z0-9-]+-rp-\\*`),
      );
    }
  });

  itIfFailover("the failback create deletes nothing (a half-made secondary is the cleanup task's)", () => {
    const [createId] = functionOf(dr, 'wf-create-replica');
    const actions = statementsOfRole(dr, roleOfFunction(dr, createId)).flatMap((s) => actionsOf(s));

    expect(actions).toContain('rds:CreateDBInstanceReadReplica');
    expect(actions.filter((a) => a.startsWith('rds:Delete'))).toEqual([]);
  });

  it('gives restore-test the database secrets of the primary region', () => {
    const [, plan] = functionOf(primary, 'wf-plan-restore-test');

    expect(JSON.parse(plan.Properties.Environment.Variables[WF_ENV.databaseSecrets])).toEqual(
      databaseSecrets(config, 'primary'),
    );
  });
});
