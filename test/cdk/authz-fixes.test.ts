import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import { VPC_ACCESS_ACTIONS } from '../../lib/constructs/lifeboat-function.ts';
import { type SynthesizedEnvironment, synthesizeEnvironment } from './support.ts';
import { actionsOf, resourcesOf, type Statement, statementsOfRole } from './template-helpers.ts';

/**
 * The IAM, topic and key policy defects a review of the prod synthesis found, each pinned here as
 * it is fixed (test/authz evaluates the same policies with a policy evaluator).
 */

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

/** A value as text, intrinsics rendered `<LogicalId>` (enough to match names and ARNs). */
function render(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(render).join(',');
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(sep);
    }
    if ('Fn::GetAtt' in o) return `<${(o['Fn::GetAtt'] as string[])[0]}>`;
    if ('Ref' in o) return o.Ref === 'AWS::Partition' ? 'aws' : `<${o.Ref as string}>`;
  }
  return v === undefined ? '' : JSON.stringify(v);
}

function roles(template: Template): string[] {
  return Object.keys(template.findResources('AWS::IAM::Role'));
}

function allStatements(template: Template): { role: string; statement: Statement }[] {
  return roles(template).flatMap((role) =>
    statementsOfRole(template, role).map((statement) => ({ role, statement })),
  );
}

const allows = (s: Statement, action: string) =>
  s.Effect === 'Allow' &&
  actionsOf(s).some(
    (a) =>
      a.toLowerCase() === action.toLowerCase() ||
      (a.endsWith('*') && action.toLowerCase().startsWith(a.slice(0, -1).toLowerCase())),
  );

function roleWithLogicalIdPrefix(template: Template, prefix: string): string {
  const found = roles(template).filter((r) => r.startsWith(prefix));
  expect(found, `role ${prefix}*`).toHaveLength(1);
  return found[0]!;
}

describe.each(Object.keys(ENVIRONMENTS))(
  'environment %s: policies after the authorization review',
  (name) => {
    let env: SynthesizedEnvironment;
    let templates: Template[];

    beforeAll(() => {
      env = synthesizeEnvironment(name);
      templates = [env.primaryTemplate, env.drTemplate];
    });
    afterAll(() => env?.dispose());

    it('lets CloudWatch alarms of this account and region publish to every topic, and use its key', () => {
      for (const template of templates) {
        const resources = template.toJSON().Resources as Resources;
        const topics = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SNS::Topic');
        expect(topics.length).toBeGreaterThan(0);
        for (const [topicId, topic] of topics) {
          const policy = Object.values(resources).find(
            (r) => r.Type === 'AWS::SNS::TopicPolicy' && render(r.Properties.Topics).includes(`<${topicId}>`),
          );
          expect(policy, `policy of ${topicId}`).toBeDefined();
          const statements = (
            policy!.Properties.PolicyDocument as { Statement: Statement[] & { Principal?: unknown }[] }
          ).Statement as (Statement & { Principal?: { Service?: string } })[];
          const alarmAllow = statements.find(
            (s) => s.Effect === 'Allow' && s.Principal?.Service === 'cloudwatch.amazonaws.com',
          );
          expect(alarmAllow, `cloudwatch may publish to ${topicId}`).toBeDefined();
          expect(actionsOf(alarmAllow!)).toEqual(['sns:Publish']);
          expect(render(alarmAllow!.Condition)).toMatch(/aws:SourceAccount.*\d{12}/);
          expect(render(alarmAllow!.Condition)).toMatch(
            /aws:SourceArn.*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:\*/,
          );
          // and the topic's key
          const keyId = render(topic.Properties.KmsMasterKeyId).replace(/[<>]/g, '');
          const key = resources[keyId]!;
          const keyStatements = (
            key.Properties.KeyPolicy as { Statement: (Statement & { Principal?: { Service?: string } })[] }
          ).Statement;
          const keyAllow = keyStatements.find(
            (s) =>
              s.Principal?.Service === 'cloudwatch.amazonaws.com' &&
              actionsOf(s).includes('kms:GenerateDataKey*') &&
              actionsOf(s).includes('kms:Decrypt'),
          );
          expect(keyAllow, `cloudwatch may use the key of ${topicId}`).toBeDefined();
        }
      }
    });

    it('attaches no AWS managed policy to a VPC function; its role manages ENIs and writes only its own log group', () => {
      for (const template of templates) {
        for (const [id, role] of Object.entries(template.findResources('AWS::IAM::Role'))) {
          expect(
            render(
              (role as { Properties: { ManagedPolicyArns?: unknown } }).Properties.ManagedPolicyArns ?? [],
            ),
            id,
          ).not.toContain('AWSLambdaVPCAccessExecutionRole');
        }
        for (const { role, statement } of allStatements(template)) {
          if (actionsOf(statement).some((a) => a.startsWith('logs:PutLogEvents'))) {
            expect(render(statement.Resource), role).not.toBe('*');
          }
          const ec2 = actionsOf(statement).filter((a) => a.startsWith('ec2:'));
          expect(
            ec2.every((a) => (VPC_ACCESS_ACTIONS as readonly string[]).includes(a)),
            role,
          ).toBe(true);
        }
      }
    });

    it('never lets anyone delete, or upload in parts to, a catalog record; never kms:Encrypt on a backup key', () => {
      for (const template of templates) {
        for (const { role, statement } of allStatements(template)) {
          const catalog = resourcesOf(statement).some((r) => render(r).endsWith('/catalog/*'));
          if (catalog && statement.Effect === 'Allow') {
            expect(actionsOf(statement), role).not.toContain('s3:DeleteObject');
            expect(actionsOf(statement), role).not.toContain('s3:AbortMultipartUpload');
          }
          if (resourcesOf(statement).some((r) => /VaultKey/.test(render(r)))) {
            expect(actionsOf(statement), role).not.toContain('kms:Encrypt');
          }
          expect(actionsOf(statement), role).not.toContain('secretsmanager:DescribeSecret');
        }
      }
    });

    it('lets the notifier send to its dead-letter queue without kms:Encrypt or kms:ReEncrypt*', () => {
      for (const template of templates) {
        const notifier = roles(template).filter((r) => r.startsWith('NotificationsNotifierRole'));
        for (const role of notifier) {
          const actions = statementsOfRole(template, role).flatMap(actionsOf);
          expect(actions).toContain('sqs:SendMessage');
          expect(actions).not.toContain('kms:Encrypt');
          expect(actions).not.toContain('kms:ReEncrypt*');
        }
      }
    });

    it('uses snapshot keys in restores only through RDS, and creates grants only for AWS resources', () => {
      let checked = 0;
      for (const template of templates) {
        for (const role of roles(template).filter((r) =>
          /^Workflows(Restore|RestoreTest)StateMachineRole/.test(r),
        )) {
          const kms = statementsOfRole(template, role).filter(
            (s) =>
              actionsOf(s).some((a) => a.startsWith('kms:')) && !render(s.Resource).includes('OperationsKey'),
          );
          for (const s of kms) {
            checked += 1;
            expect(render(s.Condition), role).toMatch(/kms:ViaService.*rds\.[a-z0-9-]+\.amazonaws\.com/);
            if (actionsOf(s).includes('kms:CreateGrant')) {
              expect(s.Condition?.Bool, role).toEqual({ 'kms:GrantIsForAWSResource': 'true' });
            }
          }
        }
      }
      // The DR restore always reads the DR backup key.
      expect(checked).toBeGreaterThan(0);
    });

    it("creates instances and clusters in restores only tagged as the workflow's, from lifeboat snapshots only", () => {
      for (const template of templates) {
        for (const role of roles(template).filter((r) =>
          /^Workflows(Restore|RestoreTest)StateMachineRole/.test(r),
        )) {
          const workflow = role.includes('RestoreTest') ? 'restore-test' : 'restore';
          const creates = statementsOfRole(template, role).filter((s) =>
            actionsOf(s).some((a) => /^rds:(restore|create)DB/i.test(a)),
          );
          expect(creates.length).toBeGreaterThan(0);
          for (const s of creates) {
            for (const r of resourcesOf(s).map(render)) {
              if (/:(db|cluster):/.test(r)) {
                expect(s.Condition, `${role} ${r}`).toEqual({
                  StringEquals: { 'aws:RequestTag/lifeboat:workflow': workflow },
                });
              }
              if (/:(snapshot|cluster-snapshot):/.test(r)) expect(r, role).toMatch(/:lifeboat-\*$/);
            }
          }
        }
      }
    });
  },
);

describe('prod: DR keys, global database members, copies', () => {
  let env: SynthesizedEnvironment;
  beforeAll(() => {
    env = synthesizeEnvironment('prod');
  });
  afterAll(() => env?.dispose());
  const drStorageKey = 'arn:aws:kms:us-west-2:333333333333:key/0c1b2c3d-0000-4000-8000-000000000002';

  it('lets the DR restore workflow use the DR storage key of the replicas (point-in-time restores)', () => {
    const role = roleWithLogicalIdPrefix(env.drTemplate, 'WorkflowsRestoreStateMachineRole');
    const grant = statementsOfRole(env.drTemplate, role).find(
      (s) => allows(s, 'kms:CreateGrant') && resourcesOf(s).includes(drStorageKey),
    );
    expect(grant).toBeDefined();
    expect(grant!.Condition).toMatchObject({
      StringEquals: { 'kms:ViaService': 'rds.us-west-2.amazonaws.com' },
    });
  });

  it('allows global switchover and failover on the configured global database and its two members only', () => {
    const role = roleWithLogicalIdPrefix(env.drTemplate, 'FailoverStateMachineRole');
    const statements = statementsOfRole(env.drTemplate, role);
    const members = [
      'arn:aws:rds::333333333333:global-cluster:orders-prod-global',
      'arn:aws:rds:us-west-2:333333333333:cluster:orders-prod-west',
      'arn:aws:rds:us-east-1:333333333333:cluster:orders-prod',
    ];
    const allow = statements.find(
      (s) =>
        s.Effect === 'Allow' &&
        actionsOf(s).includes('rds:FailoverGlobalCluster') &&
        resourcesOf(s).map(render).includes(members[2]!),
    );
    expect(allow).toBeDefined();
    expect(resourcesOf(allow!).map(render).sort()).toEqual([...members].sort());
    const deny = statements.find(
      (s) => s.Effect === 'Deny' && actionsOf(s).includes('rds:SwitchoverGlobalCluster'),
    ) as (Statement & { NotResource?: unknown[] }) | undefined;
    expect(deny?.NotResource?.map(render).sort()).toEqual([...members].sort());
  });

  it('lets the failback replica creation use the source (DR) storage key through RDS there, and only grants on keys', () => {
    const role = roleWithLogicalIdPrefix(env.drTemplate, 'FailoverCreateReplicaRole');
    const kms = statementsOfRole(env.drTemplate, role).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('kms:')),
    );
    expect(kms.flatMap(actionsOf).sort()).toEqual([
      'kms:CreateGrant',
      'kms:CreateGrant',
      'kms:DescribeKey',
      'kms:DescribeKey',
    ]);
    const source = kms.find((s) => resourcesOf(s).includes(drStorageKey) && allows(s, 'kms:CreateGrant'));
    expect(source?.Condition).toEqual({
      StringEquals: { 'kms:ViaService': 'rds.us-west-2.amazonaws.com' },
      Bool: { 'kms:GrantIsForAWSResource': 'true' },
    });
  });

  it('lets copy-snapshot create grants on the configured storage keys only, not any key of the region', () => {
    const role = roleWithLogicalIdPrefix(env.primaryTemplate, 'CopySnapshotFunctionRole');
    const grants = statementsOfRole(env.primaryTemplate, role).filter((s) => allows(s, 'kms:CreateGrant'));
    const resources = grants.flatMap((s) => resourcesOf(s).map(render));
    expect(resources).toContain(
      'arn:aws:kms:us-east-1:333333333333:key/0c1b2c3d-0000-4000-8000-000000000001',
    );
    expect(resources).not.toContain('arn:aws:kms:us-east-1:333333333333:key/*');
    for (const s of grants) expect(s.Condition?.Bool).toEqual({ 'kms:GrantIsForAWSResource': 'true' });
  });
});
