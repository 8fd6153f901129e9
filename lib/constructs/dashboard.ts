import { Duration, Stack } from 'aws-cdk-lib';
import {
  AlarmStatusWidget,
  AlarmStatusWidgetSortBy,
  Color,
  Dashboard,
  GraphWidget,
  type HorizontalAnnotation,
  type IAlarm,
  type IMetric,
  type IWidget,
  MathExpression,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { METRIC } from '../../functions/core/shared/metrics.ts';
import type { AlarmSettings } from '../config/schema.ts';
import { dashboardName } from '../naming.ts';
import {
  functionMetrics,
  lifeboatMetric,
  manualSnapshotQuotaMetric,
  type Monitoring,
  type ReplicaLagSource,
  replicaLagMetric,
} from './monitoring/index.ts';

/** The alarms one alarm status widget shows at most; more are cut (the title says how many). */
export const ALARM_STATUS_LIMIT = 100;

export interface LifeboatDashboardProps {
  readonly environment: string;
  /** The stack's role: names the dashboard (`lifeboat-<env>`, `lifeboat-<env>-dr`) and its heading. */
  readonly role: 'primary' | 'dr';
  /** The stack's alarms, functions and workflows. */
  readonly monitoring: Monitoring;
  /** Thresholds, drawn as annotations and listed in the heading. */
  readonly alarms: AlarmSettings;
  /**
   * Databases whose backups, verifications and restore durations are graphed (metrics of this
   * region). @default - none
   */
  readonly backups?: readonly string[];
  /** Replicas whose lag is graphed in seconds, with the warning and critical thresholds. @default - none */
  readonly replicas?: readonly ReplicaLagSource[];
  /** Region of the replicas, when it is not the stack's (the primary dashboard shows the DR replicas). */
  readonly replicaRegion?: string;
  /** Graph the manual snapshot quota with its threshold. @default false */
  readonly snapshotQuota?: boolean;
  /** Graph the RTO and RPO of failovers of these databases (recorded in this region). @default - none */
  readonly failovers?: readonly string[];
}

/**
 * The CloudWatch dashboard of one environment in one region: alarm states, then per database its
 * backups, verifications and replica lag, then the snapshot quota, functions and workflows. Widgets
 * that list the stack's functions, workflows and alarms are rendered at synthesis, so they include
 * those that `Monitoring.watchStack` finds after this construct is created.
 */
export class LifeboatDashboard extends Construct {
  public readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: LifeboatDashboardProps) {
    super(scope, id);
    const { environment, monitoring, alarms } = props;
    const region = Stack.of(this).region;
    const dr = props.role === 'dr';
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: dashboardName(environment, props.role),
      defaultInterval: Duration.days(7),
    });

    this.dashboard.addWidgets(
      new TextWidget({ markdown: heading(props, region), width: 8, height: 7 }),
      alarmStatus('Backups, verification, replicas, quota, queues', monitoring.alarms, 8, 7),
      alarmStatus('Functions and workflows', monitoring.componentAlarms, 8, 7),
    );

    const replicas = new Map((props.replicas ?? []).map((r) => [r.database, r]));
    const failovers = new Set(props.failovers ?? []);
    const databases = [...new Set([...(props.backups ?? []), ...replicas.keys(), ...failovers])];
    for (const database of databases) {
      const row: IWidget[] = [];
      if (props.backups?.includes(database)) row.push(...backupWidgets(environment, database));
      const replica = replicas.get(database);
      if (replica) row.push(replicaLagWidget(replica, alarms, props.replicaRegion));
      if (failovers.has(database)) row.push(failoverWidget(environment, database));
      if (failovers.has(database) && dr) row.push(canaryWidget(environment, database, alarms));
      this.dashboard.addWidgets(...row);
    }

    const quota = props.snapshotQuota
      ? [
          new GraphWidget({
            title: 'Manual snapshot quota used (%)',
            left: [manualSnapshotQuotaMetric(environment)],
            leftAnnotations: [{ value: alarms.snapshotQuotaPercent, label: 'alarm', color: Color.ORANGE }],
            leftYAxis: { min: 0, max: 100, showUnits: false },
            width: 8,
            height: 6,
          }),
        ]
      : [];
    const width = quota.length ? 8 : 12;
    this.dashboard.addWidgets(
      ...quota,
      graph('Function errors (sum per 5 min)', width, () =>
        monitoring.functions.map((f) => functionMetrics(f.construct, f.label).errors),
      ),
      graph('Function throttles (sum per 5 min)', width, () =>
        monitoring.functions.map((f) => functionMetrics(f.construct, f.label).throttles),
      ),
    );
    this.dashboard.addWidgets(
      graph('Workflow executions (per hour)', 24, () =>
        monitoring.workflows.flatMap((w) => [
          w.construct.metricStarted({ label: `${w.label} started`, period: Duration.hours(1) }),
          w.construct.metricSucceeded({ label: `${w.label} succeeded`, period: Duration.hours(1) }),
          w.construct.metricFailed({ label: `${w.label} failed`, period: Duration.hours(1) }),
        ]),
      ),
    );
  }
}

function heading(props: LifeboatDashboardProps, region: string): string {
  const a = props.alarms;
  const off = (hours: number | null) => (hours === null ? 'off' : `${hours} h`);
  return [
    `# lifeboat ${props.environment} · ${props.role === 'dr' ? 'DR' : 'primary'} region ${region}`,
    '',
    'Alarm thresholds (`alarms` in the environment configuration):',
    '',
    `- no completed backup: warning ${a.backupAgeWarnHours} h, critical ${a.backupAgeCritHours} h`,
    `- no passed verification: warning ${off(a.verifiedAgeWarnHours)}, critical ${off(a.verifiedAgeCritHours)}`,
    `- no snapshot copy in the DR region: warning ${off(a.copyAgeWarnHours)}, critical ${off(a.copyAgeCritHours)}`,
    `- replica lag: warning ${a.replicaLagWarnSeconds} s, critical ${a.replicaLagCritSeconds} s (they page; they start nothing)`,
    `- failover trigger: the primary canary saw no write accepted for ${a.primaryUnwritableMinutes} min (starts the failover workflow); canary silent: ${a.canarySilentMinutes} min`,
    `- manual snapshot quota: ${a.snapshotQuotaPercent} %`,
    '',
    'Backup and verification graphs count per hour; an empty stretch longer than the threshold is what the age alarms report. See docs/deploy.md, "Dashboard".',
  ].join('\n');
}

function backupWidgets(environment: string, database: string): IWidget[] {
  const m = (name: (typeof METRIC)[keyof typeof METRIC], label: string, statistic = 'Sum') =>
    lifeboatMetric(environment, database, name, { label, statistic });
  return [
    new GraphWidget({
      title: `${database}: backups (per hour)`,
      left: [m(METRIC.backupSucceeded, 'completed'), m(METRIC.backupFailed, 'failed')],
      leftYAxis: { min: 0, showUnits: false },
      width: 6,
      height: 6,
    }),
    new GraphWidget({
      title: `${database}: backup size and duration`,
      left: [m(METRIC.backupBytes, 'bytes', 'Maximum')],
      right: [m(METRIC.backupDurationSeconds, 'seconds', 'Maximum')],
      leftYAxis: { min: 0 },
      rightYAxis: { min: 0 },
      width: 6,
      height: 6,
    }),
    new GraphWidget({
      title: `${database}: verifications (per hour) and restore duration`,
      left: [m(METRIC.verificationPassed, 'passed'), m(METRIC.verificationFailed, 'failed')],
      right: [m(METRIC.restoreDurationSeconds, 'restore seconds', 'Maximum')],
      leftYAxis: { min: 0, showUnits: false },
      rightYAxis: { min: 0 },
      width: 6,
      height: 6,
    }),
  ];
}

function replicaLagWidget(replica: ReplicaLagSource, alarms: AlarmSettings, region?: string): IWidget {
  const { metric, perSecond } = replicaLagMetric(replica);
  const seconds: IMetric =
    perSecond === 1
      ? metric.with({ label: `${replica.identifier} (s)` })
      : new MathExpression({
          expression: `lag / ${perSecond}`,
          usingMetrics: { lag: metric },
          label: `${replica.identifier} (s)`,
          period: Duration.minutes(1),
        });
  const annotations: HorizontalAnnotation[] = [
    { value: alarms.replicaLagWarnSeconds, label: 'warning', color: Color.ORANGE },
    { value: alarms.replicaLagCritSeconds, label: 'critical', color: Color.RED },
  ];
  return new GraphWidget({
    title: `${replica.database}: replica lag (seconds, ${metric.metricName})`,
    region,
    left: [seconds],
    leftAnnotations: annotations,
    leftYAxis: { min: 0, showUnits: false },
    width: 6,
    height: 6,
  });
}

/** The failover trigger's view of the primary: writable per minute, and the age of its last heartbeat. */
function canaryWidget(environment: string, database: string, alarms: AlarmSettings): IWidget {
  const perMinute = { period: Duration.minutes(1) };
  return new GraphWidget({
    title: `${database}: primary canary (writable 1/0, heartbeat age in seconds)`,
    left: [
      lifeboatMetric(environment, database, METRIC.primaryWritable, {
        ...perMinute,
        statistic: 'Maximum',
        label: 'PrimaryWritable',
      }),
    ],
    right: [
      lifeboatMetric(environment, database, METRIC.heartbeatAgeSeconds, {
        ...perMinute,
        statistic: 'Minimum',
        label: 'HeartbeatAgeSeconds',
      }),
    ],
    leftYAxis: { min: 0, max: 1, showUnits: false },
    rightYAxis: { min: 0, showUnits: false },
    rightAnnotations: [
      {
        value: alarms.primaryUnwritableMinutes * 60,
        label: 'failover trigger',
        color: Color.RED,
      },
    ],
    width: 6,
    height: 6,
  });
}

function failoverWidget(environment: string, database: string): IWidget {
  return new GraphWidget({
    title: `${database}: failovers, RTO and RPO (seconds)`,
    left: [
      lifeboatMetric(environment, database, METRIC.failoverRtoSeconds, {
        statistic: 'Maximum',
        label: 'RTO',
      }),
      lifeboatMetric(environment, database, METRIC.failoverRpoSeconds, {
        statistic: 'Maximum',
        label: 'RPO',
      }),
    ],
    leftYAxis: { min: 0, showUnits: false },
    width: 6,
    height: 6,
  });
}

function alarmStatus(title: string, alarms: readonly IAlarm[], width: number, height: number): IWidget {
  return deferred(width, height, () => {
    const shown = alarms.slice(0, ALARM_STATUS_LIMIT);
    if (shown.length === 0) return note(`${title}: no alarms in this stack`, width, height);
    return new AlarmStatusWidget({
      title: shown.length < alarms.length ? `${title} (first ${shown.length} of ${alarms.length})` : title,
      alarms: shown,
      sortBy: AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
      width,
      height,
    });
  });
}

/** A graph of metrics known only at rendering (the stack's functions, workflows); a note when none. */
function graph(title: string, width: number, metrics: () => IMetric[]): IWidget {
  return deferred(width, 6, () => {
    const left = metrics();
    if (left.length === 0) return note(`${title}: none in this stack`, width, 6);
    return new GraphWidget({ title, left, leftYAxis: { min: 0, showUnits: false }, width, height: 6 });
  });
}

function note(text: string, width: number, height: number): IWidget {
  return new TextWidget({ markdown: text, width, height });
}

/**
 * A widget of a fixed size whose content is built when the dashboard body is rendered (at
 * synthesis, after the Aspects ran), from what the stack holds by then. The layout reads only its
 * size before that.
 */
function deferred(width: number, height: number, build: () => IWidget): IWidget {
  let widget: IWidget | undefined;
  const get = () => (widget ??= build());
  return {
    width,
    height,
    position: (x, y) => get().position(x, y),
    toJson: () => get().toJson(),
  };
}
