import { Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

/** Explicit names of the per-database alarms (lib/naming.ts: the configuration checks they fit). */
export { databaseAlarmName } from '../../naming.ts';

/** Replica-lag alarms look at this many one-minute periods and fire when this many are above. */
export const REPLICA_LAG_EVALUATION = { periods: 5, datapoints: 3 } as const;

/** An alarm on any occurrence of `metric` (≥ 1 in one period); no data is no occurrence. */
export function anyOccurrence(scope: Construct, id: string, description: string, metric: IMetric): Alarm {
  return new Alarm(scope, id, {
    alarmDescription: description,
    metric,
    threshold: 1,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
}

/**
 * An alarm on the absence of `metric` for `hours` (one-hour periods, every one of them below 1):
 * every hour without the figure is missing data, and missing data counts as breaching.
 */
export function absence(
  scope: Construct,
  id: string,
  props: { alarmName: string; alarmDescription: string; metric: IMetric; hours: number },
): Alarm {
  const periods = Math.ceil(props.hours);
  return new Alarm(scope, id, {
    alarmName: props.alarmName,
    alarmDescription: props.alarmDescription,
    metric: props.metric,
    threshold: 1,
    comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: periods,
    datapointsToAlarm: periods,
    treatMissingData: TreatMissingData.BREACHING,
  });
}

/** Whether some alarm of the stack already watches the failed executions of `stateMachine`. */
export function hasFailedExecutionsAlarm(stateMachine: StateMachine): boolean {
  return Stack.of(stateMachine)
    .node.findAll()
    .some(
      (c) =>
        c instanceof Alarm &&
        c.metric instanceof Metric &&
        c.metric.namespace === 'AWS/States' &&
        c.metric.metricName === 'ExecutionsFailed' &&
        c.metric.dimensions?.StateMachineArn === stateMachine.stateMachineArn,
    );
}
