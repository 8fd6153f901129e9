import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { RestoreWorkflow } from '../../../state-machines/restore.ts';
import type { RestoreTestWorkflow } from '../../../state-machines/restore-test.ts';
import type { EnvironmentConfig, Network } from '../../config/schema.ts';
import { regionalSecrets } from '../../recovery.ts';
import type { LifeboatFunction } from '../lifeboat-function.ts';
import { importNetwork } from '../logical-dump.ts';
import type { VerifyImage } from '../verify-backup.ts';
import type { RegionRole, WorkflowsBaseProps } from './common.ts';
import { restoreWorkflow } from './restore.ts';
import { restoreTestWorkflow } from './restore-test.ts';

export interface RestoreWorkflowsProps extends WorkflowsBaseProps {
  readonly region: RegionRole;
  /** The verify image: RestoreDump runs pg_restore. */
  readonly image: VerifyImage;
  /**
   * KMS keys of the snapshots restores read (the restored storage is encrypted with them).
   * @default - none
   */
  readonly snapshotKeyArns?: readonly string[];
  /**
   * Deploy the restore-test workflow too (flow 3, snapshots), into these isolated settings.
   * @default - no restore-test workflow
   */
  readonly restoreTest?: EnvironmentConfig['restoreTest'];
}

/**
 * The restore workflow of one region (flow 5, restore.ts), and in the primary region the
 * restore-test workflow (flow 3, restore-test.ts), which checks with the restore's VerifyRestore.
 * Functions that connect to databases run in the region's `workflowNetwork` and may read exactly
 * the region's configured database secrets.
 */
export class RestoreWorkflows extends Construct {
  public readonly restore: RestoreWorkflow;
  public readonly restoreTest?: RestoreTestWorkflow;
  public readonly validateFunction: LifeboatFunction;
  public readonly resolveFunction: LifeboatFunction;
  public readonly restoreDumpFunction: LambdaFunction;
  public readonly archivedDumpFunction: LifeboatFunction;
  public readonly verifyFunction: LifeboatFunction;
  public readonly dropDatabaseFunction: LifeboatFunction;
  public readonly finishFunction: LifeboatFunction;
  public readonly planRestoreTestFunction?: LifeboatFunction;
  public readonly recordRestoreTestFunction?: LifeboatFunction;

  constructor(scope: Construct, id: string, props: RestoreWorkflowsProps) {
    super(scope, id);
    const { config } = props;
    const networkConfig: Network | undefined = config.workflowNetwork?.[props.region];
    const restore = restoreWorkflow(this, {
      base: props,
      region: props.region === 'primary' ? config.primaryRegion : config.drRegion,
      network: networkConfig ? importNetwork(new Construct(this, 'Network'), networkConfig) : undefined,
      secrets: regionalSecrets(config, props.region),
      image: props.image,
      snapshotKeyArns: props.snapshotKeyArns,
    });
    this.restore = restore.restore;
    this.validateFunction = restore.validateFunction;
    this.resolveFunction = restore.resolveFunction;
    this.restoreDumpFunction = restore.restoreDumpFunction;
    this.archivedDumpFunction = restore.archivedDumpFunction;
    this.verifyFunction = restore.verifyFunction;
    this.dropDatabaseFunction = restore.dropDatabaseFunction;
    this.finishFunction = restore.finishFunction;

    if (props.restoreTest) {
      const test = restoreTestWorkflow(this, {
        base: props,
        region: props.region,
        isolation: props.restoreTest,
        checkFunction: restore.verifyFunction,
        snapshotKeyArns: props.snapshotKeyArns,
      });
      this.restoreTest = test.restoreTest;
      this.planRestoreTestFunction = test.planFunction;
      this.recordRestoreTestFunction = test.recordFunction;
    }
  }
}
