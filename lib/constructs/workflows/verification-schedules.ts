import { Annotations } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { EnvironmentConfig } from '../../config/schema.ts';
import { restoreTestEvent, verifyBackupEvent } from '../../events.ts';
import type { BackupSchedules } from '../schedules.ts';

export interface VerificationSchedulesProps {
  readonly environment: string;
  readonly config: EnvironmentConfig;
  /** Proves each database's newest snapshot restores. */
  readonly restoreTest?: IStateMachine;
  /** Proves each database's newest dump restores. */
  readonly verifyBackup?: IFunction;
  /** The Fargate verification workflow of each `large` database, by name. */
  readonly verifyTasks?: ReadonlyMap<string, IStateMachine>;
}

/**
 * Each database's verification schedule (its policy's `verification`): the restore-test workflow
 * for its newest snapshot, and verify-backup for its newest dump when its policy takes dumps.
 * Dumps of `large` databases, which would not restore within Lambda's 15 minutes, are verified by
 * their Fargate verification workflow (`verifyTasks`); without one, synthesis warns.
 */
export function addVerificationSchedules(
  schedules: BackupSchedules,
  props: VerificationSchedulesProps,
): void {
  const { config, environment } = props;
  const unverified: string[] = [];
  for (const db of config.databases) {
    const policy = db.policySettings;
    if (props.restoreTest) {
      schedules.add(
        `RestoreTest-${db.name}`,
        policy.verification,
        { kind: 'stateMachine', stateMachine: props.restoreTest, input: restoreTestEvent(db) },
        `lifeboat ${environment}: restore test of the newest snapshot of ${db.name} (policy ${db.policy})`,
      );
    }
    if (policy.dump && props.verifyBackup) {
      if (db.large) {
        const task = props.verifyTasks?.get(db.name);
        if (!task) {
          unverified.push(db.name);
          continue;
        }
        schedules.add(
          `VerifyDump-${db.name}`,
          policy.verification,
          { kind: 'stateMachine', stateMachine: task, input: {} },
          `lifeboat ${environment}: verification of the newest dump of ${db.name} as a Fargate task (policy ${db.policy})`,
        );
        continue;
      }
      schedules.add(
        `VerifyDump-${db.name}`,
        policy.verification,
        { kind: 'function', function: props.verifyBackup, input: verifyBackupEvent(db) },
        `lifeboat ${environment}: verification of the newest dump of ${db.name} (policy ${db.policy})`,
      );
    }
  }
  if (unverified.length > 0) {
    Annotations.of(schedules).addWarningV2(
      'lifeboat:largeDumpsNotVerified',
      `dumps of large databases (${unverified.join(', ')}) are not verified on a schedule: verify-backup runs in Lambda (15 minutes); their snapshots are restore-tested`,
    );
  }
}
