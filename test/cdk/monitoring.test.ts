import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Pass, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import { ALARM_STATUS_LIMIT } from '../../lib/constructs/dashboard.ts';
import { LifeboatFunction } from '../../lib/constructs/lifeboat-function.ts';
import { Monitoring, REPLICA_LAG_EVALUATION } from '../../lib/constructs/monitoring/index.ts';
import { OperationsKey } from '../../lib/constructs/operations-key.ts';
import { replicaLagCriticalAlarmName } from '../../lib/naming.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';
import { type SynthesizedEnvironment, synthesizeEnvironment } from './support.ts';
import { onlyResource } from './template-helpers.ts';

/** CloudFormation JSON as `Template.toJSON()` types it. */
type Json = ReturnType<Template['toJSON']>;

interface Resource {
  Type: string;
  Properties: Json;
}

function resourcesOf(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.toJSON().Resources as Record<string, Resource>).filter(
    ([, r]) => r.Type === type,
  );
}

function alarmsOf(template: Template): Resource['Properties'][] {
  return resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([, r]) => r.Properties);
}

/** The alarm with this explicit name (exactly one). */
function alarmNamed(template: Template, name: string): Resource['Properties'] {
  const found = alarmsOf(template).filter((a) => a.AlarmName === name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
}

/** The dashboard's body as JSON, references replaced by `<LogicalId>`. */
function dashboardBody(template: Template): { widgets: { type: string; properties: Json }[] } {
  const [[, dashboard]] = resourcesOf(template, 'AWS::CloudWatch::Dashboard') as [[string, Resource]];
  const body = dashboard.Properties.DashboardBody;
  const text =
    typeof body === 'string'
      ? body
      : (body['Fn::Join'][1] as unknown[])
          .map((p) => {
            if (typeof p === 'string') return p;
            const o = p as { Ref?: string; 'Fn::GetAtt'?: string[] };
            return `<${o.Ref ?? o['Fn::GetAtt']![0]}>`;
          })
          .join('');
  return JSON.parse(text);
}

describe.each(['dev', 'staging', 'prod'])('alarms and dashboards of environment %s', (name) => {
  const config = loadEnvironmentConfig(name);
  let env: SynthesizedEnvironment;
  let primary: Template;
  let dr: Template;

  beforeAll(() => {
    env = synthesizeEnvironment(name);
    primary = env.primaryTemplate;
    dr = env.drTemplate;
  });
  afterAll(() => env?.dispose());

  it('has no unacknowledged cdk-nag finding (AwsSolutions, NIST 800-53 R5)', () => {
    expect(env.violations).toEqual([]);
  });

  it('has one encrypted topic per region, and every alarm sends ALARM and OK to it', () => {
    const { emails, slackWebhookSecretArn, drSlackWebhookSecretArn } = config.notifications;
    for (const [template, slack] of [
      [primary, slackWebhookSecretArn],
      [dr, drSlackWebhookSecretArn],
    ] as const) {
      const topic = onlyResource(template, 'AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
      const alarms = alarmsOf(template);

      if (template === primary) expect(alarms.length).toBeGreaterThan(0);
      // A component of a composite alarm that pages does not page itself (one outage, one page).
      const composites = resourcesOf(template, 'AWS::CloudWatch::CompositeAlarm').map(
        ([, r]) => r.Properties,
      );
      const components = new Set(
        composites.flatMap((c) =>
          [...JSON.stringify(c.AlarmRule).matchAll(/"Fn::GetAtt":\["([^"]+)","Arn"\]/g)].map((m) => m[1]),
        ),
      );
      for (const composite of composites) {
        expect(composite.AlarmActions, composite.AlarmDescription).toEqual([{ Ref: topic }]);
        expect(composite.OKActions, composite.AlarmDescription).toEqual([{ Ref: topic }]);
      }
      for (const [id, { Properties: alarm }] of resourcesOf(template, 'AWS::CloudWatch::Alarm')) {
        if (components.has(id) && alarm.AlarmActions === undefined) continue;
        expect(alarm.AlarmActions, alarm.AlarmDescription).toEqual([{ Ref: topic }]);
        // The notifications DLQ alarm reports only ALARM (an OK would go through the failing path).
        if (!String(alarm.AlarmDescription).includes('notifications could not be delivered')) {
          expect(alarm.OKActions, alarm.AlarmDescription).toEqual([{ Ref: topic }]);
        }
      }
      // The e-mail subscribers, and the notifier where the region has a Slack secret.
      template.resourceCountIs('AWS::SNS::Subscription', emails.length + (slack ? 1 : 0));
    }
  });

  it('deploys the Slack notifier in each region exactly when that region has a webhook secret', () => {
    const { slackWebhookSecretArn, drSlackWebhookSecretArn } = config.notifications;
    for (const [template, secret] of [
      [primary, slackWebhookSecretArn],
      [dr, drSlackWebhookSecretArn],
    ] as const) {
      const notifiers = resourcesOf(template, 'AWS::Lambda::Function').filter(
        ([, fn]) => fn.Properties.Environment?.Variables?.LIFEBOAT_SLACK_SECRET_ARN !== undefined,
      );
      if (secret) {
        expect(
          notifiers.map(([, fn]) => fn.Properties.Environment.Variables.LIFEBOAT_SLACK_SECRET_ARN),
        ).toEqual([secret]);
        template.hasResourceProperties('AWS::SNS::Topic', { TopicName: `lifeboat-${name}-events` });
      } else {
        expect(notifiers).toEqual([]);
      }
    }
  });

  it('alarms on errors and on throttles of every function of both stacks', () => {
    for (const template of [primary, dr]) {
      const alarms = alarmsOf(template);
      for (const [id] of resourcesOf(template, 'AWS::Lambda::Function')) {
        const ofFunction = alarms.filter(
          (a) =>
            a.Namespace === 'AWS/Lambda' &&
            JSON.stringify(a.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: { Ref: id } }]),
        );
        expect(
          ofFunction
            .map((a) => [a.MetricName, a.Statistic, a.Period, a.Threshold, a.ComparisonOperator])
            .sort(),
          id,
        ).toEqual([
          ['Errors', 'Sum', 300, 1, 'GreaterThanOrEqualToThreshold'],
          ['Throttles', 'Sum', 300, 1, 'GreaterThanOrEqualToThreshold'],
        ]);
      }
    }
  });

  it('alarms on failed and timed-out executions of every workflow of both stacks', () => {
    for (const template of [primary, dr]) {
      const alarms = alarmsOf(template);
      for (const [id] of resourcesOf(template, 'AWS::StepFunctions::StateMachine')) {
        const ofMachine = alarms.filter(
          (a) =>
            JSON.stringify(a.Dimensions) ===
            JSON.stringify([{ Name: 'StateMachineArn', Value: { Ref: id } }]),
        );
        // Exactly one of each: a workflow construct with alarms of its own is not alarmed twice.
        for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
          expect(
            ofMachine.filter((a) => a.MetricName === metric),
            `${id} ${metric}`,
          ).toHaveLength(1);
        }
      }
    }
  });

  it.each([
    [
      'no completed logical backup',
      'backup-age',
      'BackupSucceeded',
      'backupAgeWarnHours',
      'backupAgeCritHours',
      true,
    ],
    [
      'no passed verification',
      'verified-age',
      'VerificationPassed',
      'verifiedAgeWarnHours',
      'verifiedAgeCritHours',
      false,
    ],
    [
      'no snapshot copy arrived in the DR region',
      'copy-age',
      'SnapshotCopied',
      'copyAgeWarnHours',
      'copyAgeCritHours',
      false,
    ],
  ] as const)(
    'warns and then pages when a database has had %s for too long, unless a level is turned off',
    (_what, alarm, metricName, warnKey, critKey, dumpsOnly) => {
      const watched = config.databases.filter((db) => !dumpsOnly || db.policySettings.dump);
      const levels = [
        ['warning', config.alarms[warnKey]],
        ['critical', config.alarms[critKey]],
      ] as const;
      const on = levels.filter(([, hours]) => hours !== null);

      expect(watched.length).toBeGreaterThan(0);
      expect(alarmsOf(primary).filter((a) => a.MetricName === metricName)).toHaveLength(
        watched.length * on.length,
      );
      for (const db of watched) {
        for (const [severity, hours] of on) {
          expect(alarmNamed(primary, `lifeboat-${name}-${db.name}-${alarm}-${severity}`)).toMatchObject({
            Namespace: 'Lifeboat',
            MetricName: metricName,
            Dimensions: [
              { Name: 'Database', Value: db.name },
              { Name: 'Environment', Value: name },
            ],
            Statistic: 'Sum',
            Period: 3600,
            Threshold: 1,
            ComparisonOperator: 'LessThanThreshold',
            EvaluationPeriods: Math.ceil(hours!),
            DatapointsToAlarm: Math.ceil(hours!),
            TreatMissingData: 'breaching',
          });
        }
      }
    },
  );

  it('alarms on replica lag in the DR stack, in the unit RDS reports it, the critical one by its known name', () => {
    const replicated = config.databases.filter((db) => db.failover);
    const lagMetrics = ['ReplicaLag', 'AuroraGlobalDBReplicationLag'];

    expect(alarmsOf(primary).filter((a) => lagMetrics.includes(a.MetricName))).toEqual([]);
    expect(alarmsOf(dr).filter((a) => lagMetrics.includes(a.MetricName))).toHaveLength(2 * replicated.length);
    for (const db of replicated) {
      const instance = db.kind === 'instance';
      for (const [severity, seconds, alarmName, missing] of [
        [
          'warning',
          config.alarms.replicaLagWarnSeconds,
          `lifeboat-${name}-${db.name}-replica-lag-warning`,
          'breaching',
        ],
        [
          'critical',
          config.alarms.replicaLagCritSeconds,
          replicaLagCriticalAlarmName(name, db.name),
          'missing',
        ],
      ] as const) {
        expect(alarmNamed(dr, alarmName), severity).toMatchObject({
          Namespace: 'AWS/RDS',
          MetricName: instance ? 'ReplicaLag' : 'AuroraGlobalDBReplicationLag',
          Dimensions: [
            {
              Name: instance ? 'DBInstanceIdentifier' : 'DBClusterIdentifier',
              Value: db.failover!.replicaIdentifier,
            },
          ],
          Statistic: 'Maximum',
          Period: 60,
          // ReplicaLag is in seconds, AuroraGlobalDBReplicationLag in milliseconds.
          Threshold: instance ? seconds : seconds * 1000,
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: REPLICA_LAG_EVALUATION.periods,
          DatapointsToAlarm: REPLICA_LAG_EVALUATION.datapoints,
          TreatMissingData: missing,
        });
      }
    }
  });

  it('alarms at the configured share of the manual snapshot quota', () => {
    primary.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ManualSnapshotQuotaUsedPercent',
      Dimensions: [{ Name: 'Environment', Value: name }],
      Threshold: config.alarms.snapshotQuotaPercent,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('has a dashboard per region, with every alarm of the stack in its alarm status widgets', () => {
    for (const [template, dashboardName] of [
      [primary, `lifeboat-${name}`],
      [dr, `lifeboat-${name}-dr`],
    ] as const) {
      onlyResource(template, 'AWS::CloudWatch::Dashboard', { DashboardName: dashboardName });
      const shown = dashboardBody(template)
        .widgets.filter((w) => w.type === 'alarm')
        .flatMap((w) => w.properties.alarms as string[]);
      const alarms = [
        ...resourcesOf(template, 'AWS::CloudWatch::Alarm'),
        ...resourcesOf(template, 'AWS::CloudWatch::CompositeAlarm'),
      ].map(([id]) => `<${id}>`);

      expect(alarms.length).toBeLessThanOrEqual(2 * ALARM_STATUS_LIMIT);
      expect(shown.sort()).toEqual(alarms.sort());
    }
  });

  it('graphs each database: backups, verifications, replica lag (in seconds, thresholds drawn)', () => {
    const widgets = dashboardBody(primary).widgets;
    const titled = (title: string) => {
      const found = widgets.filter((w) => w.properties.title === title);
      expect(found, title).toHaveLength(1);
      return found[0]!.properties;
    };

    for (const db of config.databases) {
      expect(titled(`${db.name}: backups (per hour)`).metrics.map((m: unknown[]) => m[1])).toEqual([
        'BackupSucceeded',
        'BackupFailed',
      ]);
      expect(titled(`${db.name}: backup size and duration`).metrics.map((m: unknown[]) => m[1])).toEqual([
        'BackupBytes',
        'BackupDurationSeconds',
      ]);
      expect(
        titled(`${db.name}: verifications (per hour) and restore duration`).metrics.map(
          (m: unknown[]) => m[1],
        ),
      ).toEqual(['VerificationPassed', 'VerificationFailed', 'RestoreDurationSeconds']);
      if (!db.failover) continue;
      // The primary dashboard reads the lag from the DR region, the DR dashboard from its own.
      for (const [body, region] of [
        [widgets, config.drRegion],
        [dashboardBody(dr).widgets, '<AWS::Region>'],
      ] as const) {
        const lag = body.find((w) => String(w.properties.title).startsWith(`${db.name}: replica lag`))!;
        expect(lag.properties.region).toBe(region);
        expect(lag.properties.annotations.horizontal.map((a: { value: number }) => a.value)).toEqual([
          config.alarms.replicaLagWarnSeconds,
          config.alarms.replicaLagCritSeconds,
        ]);
        const metrics = lag.properties.metrics as unknown[][];
        if (db.kind === 'cluster') {
          // Milliseconds graphed as seconds.
          expect(metrics[0]).toEqual([
            { expression: 'lag / 1000', label: `${db.failover.replicaIdentifier} (s)`, period: 60 },
          ]);
          expect(metrics[1]!.slice(0, 4)).toEqual([
            'AWS/RDS',
            'AuroraGlobalDBReplicationLag',
            'DBClusterIdentifier',
            db.failover.replicaIdentifier,
          ]);
        } else {
          expect(metrics[0]!.slice(0, 4)).toEqual([
            'AWS/RDS',
            'ReplicaLag',
            'DBInstanceIdentifier',
            db.failover.replicaIdentifier,
          ]);
        }
      }
    }
    expect(titled('Manual snapshot quota used (%)').annotations.horizontal[0].value).toBe(
      config.alarms.snapshotQuotaPercent,
    );
    const functions = resourcesOf(primary, 'AWS::Lambda::Function').map(([id]) => id);
    const errors = titled('Function errors (sum per 5 min)').metrics as unknown[][];
    expect(errors.map((m) => m[3]).sort()).toEqual(functions.map((id) => `<${id}>`).sort());
  });
});

describe('Monitoring.watchStack', () => {
  let outdir: string;
  let stackTemplate: Template;
  let watched: Monitoring;

  beforeAll(() => {
    outdir = mkdtempSync(path.join(tmpdir(), 'lifeboat-cdk-monitoring-'));
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Watched', { env: { account: '111111111111', region: 'eu-west-1' } });
    const operationsKey = new OperationsKey(stack, 'OperationsKey', { environment: 'test' });
    const config = loadEnvironmentConfig('dev');
    const monitoring = new Monitoring(stack, 'Monitoring', {
      environment: 'test',
      alarms: config.alarms,
      notifications: config.notifications,
      operationsKey,
    });
    monitoring.watchStack();
    // Both created after watchStack: the Aspect still finds them at synthesis.
    new LifeboatFunction(stack, 'Late', { entry: path.join(PROJECT_ROOT, 'test/fixtures/cdk/handler.ts') });
    const machine = new StateMachine(stack, 'LateWorkflow', { definition: new Pass(stack, 'Nothing') });
    // Alarmed explicitly before synthesis: the Aspect must not add a second set.
    monitoring.addWorkflowAlarms('Explicit', machine, 'late workflow');
    // A workflow construct that alarms on its own executions: listed, not alarmed again.
    const own = new StateMachine(stack, 'OwnAlarms', { definition: new Pass(stack, 'Nothing2') });
    own.metricFailed().createAlarm(stack, 'OwnFailed', { threshold: 1, evaluationPeriods: 1 });
    stackTemplate = Template.fromStack(stack);
    watched = monitoring;
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('covers functions and workflows created after it was called, each once', () => {
    const alarms = alarmsOf(stackTemplate);

    expect(
      alarms
        .filter((a) => a.Namespace === 'AWS/Lambda')
        .map((a) => a.MetricName)
        .sort(),
    ).toEqual(['Errors', 'Throttles']);
    const ofMachine = (prefix: string) => {
      const [id] = resourcesOf(stackTemplate, 'AWS::StepFunctions::StateMachine')
        .map(([logicalId]) => logicalId)
        .filter((logicalId) => logicalId.startsWith(prefix));
      return alarms
        .filter(
          (a) =>
            JSON.stringify(a.Dimensions) ===
            JSON.stringify([{ Name: 'StateMachineArn', Value: { Ref: id } }]),
        )
        .map((a) => a.MetricName)
        .sort();
    };
    expect(ofMachine('LateWorkflow')).toEqual([
      'ExecutionThrottled',
      'ExecutionsFailed',
      'ExecutionsTimedOut',
    ]);
    expect(ofMachine('OwnAlarms')).toEqual(['ExecutionsFailed']);
  });

  it('lists every workflow for the dashboard, and alarms made elsewhere with its own', () => {
    expect(watched.workflows.map((w) => w.label).sort()).toEqual(['OwnAlarms', 'late workflow']);
    expect(watched.componentAlarms.map((a) => a.node.id)).toContain('OwnFailed');
  });
});
