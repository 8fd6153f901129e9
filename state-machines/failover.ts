import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { buildStateMachine, type IWorkflow } from './common.ts';
import { approvalGate } from './failover/approval.ts';
import { failoverContext } from './failover/context.ts';
import { dnsSwitch } from './failover/dns.ts';
import { endings } from './failover/endings.ts';
import { fenceAndCatchUp } from './failover/fence.ts';
import { recordAndFinish } from './failover/finish.ts';
import { acquireLock } from './failover/lock.ts';
import { preflightSection } from './failover/preflight.ts';
import type { FailoverWorkflowProps } from './failover/props.ts';
import { promotion } from './failover/promotion.ts';
import { writeCheck } from './failover/write-check.ts';

export { type FailoverWorkflowProps, LOCK_KEY_ATTRIBUTE } from './failover/props.ts';

/**
 * Flow 6: cross-region failover of one database, deployed in the DR region. See docs/workflows.md
 * for the states, the errors and what each Catch does. Each section is built in its own module
 * under failover/, every state a child of this construct (state names and ids are the section's).
 * A section is built first (with its ways into the failed and partial endings), then connected to
 * the section its success goes on to (see Connect).
 */
export class FailoverWorkflow extends Construct implements IWorkflow {
  public readonly stateMachine: IWorkflow['stateMachine'];
  public readonly logGroup: IWorkflow['logGroup'];
  public readonly arnParameter: IWorkflow['arnParameter'];
  public readonly alarms: IWorkflow['alarms'];

  constructor(scope: Construct, id: string, props: FailoverWorkflowProps) {
    super(scope, id);
    const ctx = failoverContext(this, props);
    const { failureChain, partialChain } = endings(ctx);
    // Built in this order (the order of the ways into the endings), connected from the end back.
    const lock = acquireLock(ctx, failureChain);
    const approval = approvalGate(ctx, failureChain);
    const fence = fenceAndCatchUp(ctx, failureChain);
    const promote = promotion(ctx, failureChain, partialChain);
    const verifyWrite = writeCheck(ctx, partialChain);
    const dns = dnsSwitch(ctx, partialChain);
    const record = recordAndFinish(ctx);
    const definition = preflightSection(ctx, lock(approval(fence(promote(verifyWrite(dns(record)))))));

    const built = buildStateMachine(this, {
      ...props,
      name: 'failover',
      definition,
      timeout: props.timeout ?? Duration.hours(4),
      comment:
        'lifeboat failover: preflight, lock, approval, re-check, fence, catch up (planned), promote, verify write, DNS, record RTO/RPO',
    });
    this.stateMachine = built.stateMachine;
    this.logGroup = built.logGroup;
    this.arnParameter = built.arnParameter;
    this.alarms = built.alarms;
  }
}
