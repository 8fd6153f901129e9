import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { type IWorkflow, rdsArn } from '../../../state-machines/common.ts';
import { TAG, type WorkflowTagValue } from '../../../functions/core/contracts/index.ts';
import { acknowledgeStateMachineRole } from './nag.ts';

/**
 * What a workflow's own role needs beyond what its construct grants, and the findings its
 * construct-written policy raises: publishing to an encrypted topic needs the topic's key; deletes
 * are denied on anything the workflow did not tag as its own.
 */
export function hardenStateMachine(
  workflow: IWorkflow,
  props: { readonly topic: ITopic; readonly deleteOnlyTagged?: WorkflowTagValue },
): void {
  const stateMachine = workflow.stateMachine;
  props.topic.grantPublish(stateMachine);
  if (props.deleteOnlyTagged) {
    // The restore steps delete what `$.created` names; this makes IAM refuse any instance or
    // cluster the workflow did not create itself, whatever that path holds.
    stateMachine.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        actions: ['rds:DeleteDBInstance', 'rds:DeleteDBCluster'],
        resources: [rdsArn(stateMachine, 'db'), rdsArn(stateMachine, 'cluster')],
        conditions: { StringNotEquals: { [`aws:ResourceTag/${TAG.workflow}`]: props.deleteOnlyTagged } },
      }),
    );
  }
  acknowledgeStateMachineRole(stateMachine.role);
}
