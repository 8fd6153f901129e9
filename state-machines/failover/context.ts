import { Duration, type IResolvable } from 'aws-cdk-lib';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { type IChainable, JsonPath, Pass } from 'aws-cdk-lib/aws-stepfunctions';
import { DynamoAttributeValue } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { pollAttemptsFor } from '../../functions/core/failover/promotion.ts';
import { type FailoverWorkflowProps, LOCK_KEY_ATTRIBUTE } from './props.ts';

/** What every section of the failover workflow reads: its props and the paths all of them share. */
export interface FailoverContext {
  /** The workflow construct: every state is its child, so state names and ids stay what they were. */
  readonly scope: Construct;
  readonly props: FailoverWorkflowProps;
  readonly env: string;
  readonly topic: ITopic;
  /** The validated request's database: everything after Preflight reads the validated request. */
  readonly database: string;
  /** Key of this database's lock item (`failover#<database>`). */
  readonly lockKey: Record<string, DynamoAttributeValue>;
  readonly commands: IResolvable;
  /** The true state of each part, as the final notifications carry it. */
  readonly state: Record<'lock' | 'fence' | 'promotion' | 'dns' | 'writeCheck', IResolvable>;
  /** Wait before the first writability check (and before confirming a failed promote request). */
  readonly promotionFirstWait: Duration;
  readonly maxPromotionChecks: number;
}

/**
 * A section whose states are built (and wired to the endings), waiting for the state its success
 * goes on to; given it, returns the section's entry. Sections are built in the order the ASL was
 * always built in (the order of each state's incoming transitions decides the order of the states
 * in the ASL), and connected from the end backwards.
 */
export type Connect<T extends IChainable = IChainable> = (next: IChainable) => T;

export function failoverContext(scope: Construct, props: FailoverWorkflowProps): FailoverContext {
  const env = props.environment;
  const topic = props.notificationTopic;
  // Everything after Preflight reads the validated request: the raw input may lack any field.
  const database = JsonPath.stringAt('$.preflight.request.database');
  const lockKey = {
    [LOCK_KEY_ATTRIBUTE]: DynamoAttributeValue.fromString(JsonPath.format('failover#{}', database)),
  };
  const commands = JsonPath.objectAt('$.preflight.commands');
  /** The true state of each part, as the final notifications carry it. */
  const state = {
    lock: JsonPath.objectAt('$.lock'),
    fence: JsonPath.objectAt('$.fence'),
    promotion: JsonPath.objectAt('$.promote'),
    dns: JsonPath.objectAt('$.dns'),
    writeCheck: JsonPath.objectAt('$.verify'),
  };
  const promotionFirstWait = props.promotionPollInterval ?? Duration.seconds(15);
  const maxPromotionChecks =
    props.promotionMaxAttempts ?? pollAttemptsFor(30 * 60, promotionFirstWait.toSeconds());
  return {
    scope,
    props,
    env,
    topic,
    database,
    lockKey,
    commands,
    state,
    promotionFirstWait,
    maxPromotionChecks,
  };
}

/** Sets `$.partial` = { stage, cause } where cause names what happened and the next manual step. */
export function partialStage(
  scope: Construct,
  id: string,
  stage: string,
  [template, ...paths]: string[],
): Pass {
  return new Pass(scope, id, {
    parameters: {
      stage,
      cause: JsonPath.format(template!, ...paths.map((p) => JsonPath.stringAt(p))),
    },
    resultPath: '$.partial',
  });
}
