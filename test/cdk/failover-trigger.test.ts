import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANARY_ENV } from '../../functions/canary/env.ts';
import { CanaryEvent, parseCanaryTargets } from '../../functions/core/failover/canary.ts';
import { heartbeatStateKey } from '../../functions/core/failover/heartbeat.ts';
import { WF_ENV } from '../../functions/wf-common/env.ts';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import type { EnvironmentConfig } from '../../lib/config/schema.ts';
import { canaryAlarmName, primaryUnwritableAlarmName, replicaLagAlarmName } from '../../lib/naming.ts';
import { failoverDatabases } from '../../lib/recovery.ts';
import { type SynthesizedEnvironment, synthesizeEnvironment } from './support.ts';
import { actionsOf, arnOf, resourcesOf, roleOfFunction, statementsOfRole } from './template-helpers.ts';

type Json = ReturnType<Template['toJSON']>;

function resources(template: Template, type: string): [string, Json][] {
  return Object.entries(template.toJSON().Resources as Record<string, Json>).filter(
    ([, r]) => r.Type === type,
  );
}

function canaryFunction(template: Template): [string, Json] {
  const found = resources(template, 'AWS::Lambda::Function').filter(
    ([, f]) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'canary',
  );
  expect(found).toHaveLength(1);
  return found[0]!;
}

const withFailover = Object.keys(ENVIRONMENTS).filter(
  (name) => failoverDatabases(loadEnvironmentConfig(name)).length > 0,
);

describe('the failover trigger: canary, alarms, rule', () => {
  it('is exercised in at least one configured environment', () => {
    expect(withFailover.length).toBeGreaterThan(0);
  });

  describe.each(withFailover)('environment %s', (name) => {
    const config: EnvironmentConfig = loadEnvironmentConfig(name);
    const databases = failoverDatabases(config);
    let env: SynthesizedEnvironment;
    let dr: Template;

    beforeAll(() => {
      env = synthesizeEnvironment(name);
      dr = env.drTemplate;
    });
    afterAll(() => env?.dispose());

    it('has no unacknowledged cdk-nag finding', () => {
      expect(env.violations).toEqual([]);
    });

    it('runs the canary in the DR region every minute per database, in the DR workflow network', () => {
      const [fnId, fn] = canaryFunction(dr);
      const vars = fn.Properties.Environment.Variables;
      const targets = parseCanaryTargets(vars[CANARY_ENV.targets]);

      expect(targets.map((t) => t.database)).toEqual(databases.map((db) => db.name));
      for (const [i, db] of databases.entries()) {
        expect(targets[i]).toEqual({
          database: db.name,
          ...(db.failover.dns ? { endpoint: db.failover.dns.recordName } : {}),
          secretArn: db.drSecretArn,
          ...(db.dbname ? { dbname: db.dbname } : {}),
        });
      }
      // Credentials come from Secrets Manager at run time, never from the environment.
      expect(JSON.stringify(vars)).not.toMatch(/password/i);
      expect(vars[CANARY_ENV.environment]).toBe(name);
      expect(fn.Properties.VpcConfig).toEqual({
        SubnetIds: config.workflowNetwork!.dr.subnetIds,
        SecurityGroupIds: [config.workflowNetwork!.dr.securityGroupId],
      });
      expect(fn.Properties.ReservedConcurrentExecutions).toBe(2 * databases.length);

      const schedules = resources(dr, 'AWS::Events::Rule').filter(([, r]) =>
        r.Properties.Targets?.some((t: Json) => JSON.stringify(t.Arn) === JSON.stringify(arnOf(fnId))),
      );
      expect(schedules.map(([, r]) => r.Properties.ScheduleExpression)).toEqual(
        databases.map(() => 'rate(1 minute)'),
      );
      const inputs = schedules.map(([, r]) => JSON.parse(r.Properties.Targets[0].Input));
      expect(inputs).toEqual(databases.map((db) => ({ database: db.name })));
      // What the handler itself accepts.
      for (const input of inputs) expect(CanaryEvent.parse(input)).toEqual(input);
      const [config_] = resources(dr, 'AWS::Lambda::EventInvokeConfig').filter(
        ([, c]) => c.Properties.FunctionName.Ref === fnId,
      );
      expect(config_![1].Properties).toMatchObject({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
    });

    it('may read exactly the DR secrets and write only the heartbeat items of the lock table', () => {
      const [fnId] = canaryFunction(dr);
      const statements = statementsOfRole(dr, roleOfFunction(dr, fnId));
      const actions = statements.flatMap(actionsOf).sort();

      expect(actions).toEqual(
        [
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          // The network interfaces of a function in a VPC (the inline replacement for the managed
          // VPC access policy).
          'ec2:AssignPrivateIpAddresses',
          'ec2:CreateNetworkInterface',
          'ec2:DeleteNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:UnassignPrivateIpAddresses',
          'kms:Decrypt',
          'kms:Encrypt',
          'kms:GenerateDataKey',
          'logs:CreateLogStream',
          'logs:PutLogEvents',
          'secretsmanager:GetSecretValue',
          'xray:PutTelemetryRecords',
          'xray:PutTraceSegments',
          ...(databases.some((db) => db.drSecretKmsKeyArn) ? ['kms:Decrypt'] : []),
        ].sort(),
      );
      const secrets = statements.find((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'))!;
      expect((resourcesOf(secrets) as string[]).sort()).toEqual(
        databases.map((db) => db.drSecretArn!).sort(),
      );
      const table = statements.find((s) => actionsOf(s).includes('dynamodb:PutItem'))!;
      const tables = resources(dr, 'AWS::DynamoDB::Table');
      expect(tables).toHaveLength(1);
      expect(resourcesOf(table)).toEqual([arnOf(tables[0]![0])]);
      expect(table.Condition).toEqual({
        'ForAllValues:StringEquals': {
          'dynamodb:LeadingKeys': databases.map((db) => heartbeatStateKey(db.name)),
        },
      });
      for (const s of statements.filter((st) => actionsOf(st).some((a) => a.startsWith('kms:')))) {
        expect(s.Condition, JSON.stringify(s)).toEqual({
          StringEquals: {
            'kms:ViaService': expect.stringMatching(new RegExp(`\\.${config.drRegion}\\.amazonaws\\.com$`)),
          },
        });
      }
    });

    it('builds per database "the primary has not accepted writes for N minutes" as a composite alarm that pages', () => {
      const minutes = config.alarms.primaryUnwritableMinutes;
      const alarms = resources(dr, 'AWS::CloudWatch::Alarm').map(([id, a]) => [id, a.Properties] as const);
      const byName = (n: string) => {
        const found = alarms.filter(([, a]) => a.AlarmName === n);
        expect(found, n).toHaveLength(1);
        return found[0]!;
      };
      for (const db of databases) {
        const [writeId, write] = byName(canaryAlarmName(name, db.name, 'write-failed'));
        expect(write).toMatchObject({
          Namespace: 'Lifeboat',
          MetricName: 'PrimaryWritable',
          Dimensions: [
            { Name: 'Database', Value: db.name },
            { Name: 'Environment', Value: name },
          ],
          Statistic: 'Maximum',
          Period: 60,
          Threshold: 1,
          ComparisonOperator: 'LessThanThreshold',
          EvaluationPeriods: minutes,
          DatapointsToAlarm: minutes,
          TreatMissingData: 'notBreaching',
        });
        expect(write.AlarmActions).toBeUndefined();
        const [ageId, age] = byName(canaryAlarmName(name, db.name, 'heartbeat-age'));
        expect(age).toMatchObject({
          MetricName: 'HeartbeatAgeSeconds',
          Statistic: 'Minimum',
          Threshold: minutes * 60 - 30,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          TreatMissingData: 'notBreaching',
        });
        const [, silent] = byName(canaryAlarmName(name, db.name, 'canary-silent'));
        expect(silent).toMatchObject({
          MetricName: 'PrimaryWritable',
          Statistic: 'SampleCount',
          EvaluationPeriods: config.alarms.canarySilentMinutes,
          TreatMissingData: 'breaching',
        });
        expect(silent.AlarmActions).toHaveLength(1);

        const composites = resources(dr, 'AWS::CloudWatch::CompositeAlarm').filter(
          ([, c]) => c.Properties.AlarmName === primaryUnwritableAlarmName(name, db.name),
        );
        expect(composites).toHaveLength(1);
        const composite = composites[0]![1].Properties;
        const rule = JSON.stringify(composite.AlarmRule);
        expect(rule).toContain(writeId);
        expect(rule).toContain(ageId);
        expect(rule).toMatch(/^\{"Fn::Join":\["",\["\(ALARM\(\\""/);
        expect(rule).toContain(' AND ');
        expect(composite.AlarmActions).toHaveLength(1);
        expect(composite.OKActions).toHaveLength(1);
      }
    });

    it('graphs the canary per database on the DR dashboard, the trigger drawn', () => {
      const [[, dashboard]] = resources(dr, 'AWS::CloudWatch::Dashboard') as [[string, Json]];
      const body = JSON.stringify(dashboard.Properties.DashboardBody);
      for (const db of databases) {
        expect(body).toContain(`${db.name}: primary canary (writable 1/0, heartbeat age in seconds)`);
      }
      // The body is JSON inside the template's JSON: its quotes are escaped.
      expect(body).toContain(
        `\\"value\\":${config.alarms.primaryUnwritableMinutes * 60},\\"label\\":\\"failover trigger\\"`,
      );
      expect(body).toContain(
        `the primary canary saw no write accepted for ${config.alarms.primaryUnwritableMinutes} min`,
      );
      expect(body).not.toContain('critical starts the failover workflow');
    });

    it('starts a failover from that alarm only; the lag alarms page and start nothing', () => {
      const rules = resources(dr, 'AWS::Events::Rule').map(([, r]) => r.Properties);
      const alarmRules = rules.filter(
        (r) => r.EventPattern?.['detail-type']?.[0] === 'CloudWatch Alarm State Change',
      );
      expect(alarmRules.map((r) => r.EventPattern.detail.alarmName)).toEqual(
        databases.map((db) => [primaryUnwritableAlarmName(name, db.name)]),
      );
      const starter = resources(dr, 'AWS::Lambda::Function').find(
        ([, f]) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'wf-alarm-start',
      )!;
      expect(starter[1].Properties.Environment.Variables[WF_ENV.failoverStateMachineArn]).toBeDefined();
      for (const r of alarmRules) expect(r.Targets.map((t: Json) => t.Arn)).toEqual([arnOf(starter[0])]);

      const everything = JSON.stringify(rules);
      for (const db of databases) {
        for (const severity of ['warning', 'critical'] as const) {
          const lag = replicaLagAlarmName(name, db.name, severity);
          expect(everything).not.toContain(lag);
          const [[, alarm]] = resources(dr, 'AWS::CloudWatch::Alarm').filter(
            ([, a]) => a.Properties.AlarmName === lag,
          ) as [[string, Json]];
          // Its only actions notify the topic.
          for (const action of [...alarm.Properties.AlarmActions, ...alarm.Properties.OKActions]) {
            expect(JSON.stringify(action)).toMatch(/Topic|Notifications/);
          }
        }
      }
    });
  });
});

describe('trigger thresholds in the configuration', () => {
  const base = ENVIRONMENTS.staging!;

  it('default to 5 minutes unwritable, 5 minutes silent', () => {
    const config = loadEnvironmentConfig('staging', { staging: { ...base, alarms: {} } });
    expect(config.alarms).toMatchObject({ primaryUnwritableMinutes: 5, canarySilentMinutes: 5 });
  });

  it.each([
    [{ primaryUnwritableMinutes: 1 }, /alarms\.primaryUnwritableMinutes: at least 2 minutes/],
    [{ primaryUnwritableMinutes: 90 }, /alarms\.primaryUnwritableMinutes: at most 60 minutes/],
    [{ primaryUnwritableMinutes: 2.5 }, /alarms\.primaryUnwritableMinutes: expected whole minutes/],
    [{ canarySilentMinutes: 0 }, /alarms\.canarySilentMinutes: at least 2 minutes/],
  ])('%o is refused, naming the environment and the field', (alarms, message) => {
    const load = () => loadEnvironmentConfig('staging', { staging: { ...base, alarms } });
    expect(load).toThrow(/config for environment "staging"/);
    expect(load).toThrow(message);
  });
});
