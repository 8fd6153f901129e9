import type { IAspect } from 'aws-cdk-lib';
import { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { DockerImageFunction } from 'aws-cdk-lib/aws-lambda';
import { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';
import { LifeboatFunction } from '../lifeboat-function.ts';
import { hasFailedExecutionsAlarm } from './alarms.ts';
import type { Monitoring } from './monitoring.ts';

/**
 * Visits a stack at synthesis and hands every function and workflow to `monitoring`, so a
 * construct created after `watchStack()` is covered as well. Functions are lifeboat's own
 * (`LifeboatFunction` and the container-image functions), not CDK's helpers. A workflow that
 * already has an alarm on its failed executions (its own construct's) is listed, not alarmed
 * twice; alarms made elsewhere in the stack are listed (`include`).
 */
export class WatchStack implements IAspect {
  constructor(private readonly monitoring: Monitoring) {}

  visit(node: IConstruct): void {
    const monitoring = this.monitoring;
    if (LifeboatFunction.isLifeboatFunction(node) || node instanceof DockerImageFunction) {
      monitoring.addFunctionAlarms(node);
    } else if (node instanceof StateMachine && !monitoring.watches(node)) {
      if (hasFailedExecutionsAlarm(node)) {
        monitoring.listWorkflow(node, monitoring.labelOf(node));
      } else {
        monitoring.addWorkflowAlarms('Workflow', node, monitoring.labelOf(node), node);
      }
    } else if (node instanceof Alarm && !monitoring.watches(node)) {
      monitoring.include(node);
    }
  }
}
