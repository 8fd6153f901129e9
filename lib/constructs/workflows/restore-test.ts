import type { Construct } from 'constructs';
import { WF_ENV } from '../../../functions/wf-common/env.ts';
import { RestoreTestWorkflow } from '../../../state-machines/restore-test.ts';
import type { EnvironmentConfig } from '../../config/schema.ts';
import { databaseSecrets } from '../../recovery.ts';
import type { LifeboatFunction } from '../lifeboat-function.ts';
import {
  grantCatalog,
  type RegionRole,
  stateMachineProps,
  taskFunction,
  type WorkflowsBaseProps,
} from './common.ts';
import { hardenStateMachine } from './state-machine-role.ts';
import { WORKFLOW_TAG_VALUE } from '../../../functions/core/contracts/index.ts';

export interface RestoreTestWorkflowProps {
  readonly base: WorkflowsBaseProps;
  readonly region: RegionRole;
  /** The isolated settings the temporary instances run in. */
  readonly isolation: NonNullable<EnvironmentConfig['restoreTest']>;
  /** Runs the data checks on the restored instance (the restore workflow's VerifyRestore). */
  readonly checkFunction: LifeboatFunction;
  /** KMS keys of the snapshots restored. */
  readonly snapshotKeyArns?: readonly string[];
}

export interface RestoreTestWorkflowParts {
  readonly restoreTest: RestoreTestWorkflow;
  readonly planFunction: LifeboatFunction;
  readonly recordFunction: LifeboatFunction;
}

/**
 * The restore-test workflow (flow 3, snapshots) in `scope`: plan (newest snapshot, matching dump,
 * temporary names) → restore into the isolated settings → checks → record → delete.
 */
export function restoreTestWorkflow(
  scope: Construct,
  props: RestoreTestWorkflowProps,
): RestoreTestWorkflowParts {
  const { base } = props;
  const planFunction = taskFunction(scope, 'PlanRestoreTest', {
    entry: 'wf-plan-restore-test/index.ts',
    description: 'restore test: newest snapshot, matching dump, temporary names',
    base,
    environment: { [WF_ENV.databaseSecrets]: JSON.stringify(databaseSecrets(base.config, props.region)) },
  });
  grantCatalog(planFunction, base.bucket, 'read');
  const recordFunction = taskFunction(scope, 'RecordRestoreTest', {
    entry: 'wf-record-restore-test/index.ts',
    description: 'restore test: writes the verification record',
    base,
  });
  grantCatalog(recordFunction, base.bucket, 'append');
  const restoreTest = new RestoreTestWorkflow(scope, 'RestoreTest', {
    ...stateMachineProps(base),
    snapshotKeyArns: props.snapshotKeyArns,
    planFunction,
    checkFunction: props.checkFunction,
    recordFunction,
    isolation: props.isolation,
  });
  hardenStateMachine(restoreTest, {
    topic: base.notificationTopic,
    deleteOnlyTagged: WORKFLOW_TAG_VALUE.restoreTest,
  });
  return { restoreTest, planFunction, recordFunction };
}
