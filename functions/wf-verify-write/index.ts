import { type FailoverTarget, ReplicaNotCaughtUp, WriteVerificationFailed } from '#core/failover/failover.ts';
import {
  catchUp,
  estimateDataLoss,
  fencedPrimaryLsn,
  replayLsn,
  verifyWrite,
} from '#core/failover/failover-pg.ts';
import * as z from '#core/shared/zod.ts';
import type { ConnectionInfo } from '#core/shared/pg.ts';
import type { Logger } from '#core/shared/logger.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { connectionAt } from '../wf-common/connection.ts';
import { as, failoverTarget } from '../wf-common/events.ts';

/**
 * The failover's database work, in the one function that has a network path to the databases and
 * reads their credentials (the event's `action`):
 *
 * - `verify-write` (VerifyWrite): proves the new primary commits a write, before DNS sends traffic
 *   to it. In one transaction: not in recovery, not read-only, a row written to and read back from
 *   a temporary table, a transaction id assigned and committed. Nothing is left behind.
 * - `catch-up` (WaitForReplicaCatchUp, planned mode): on the fenced old primary, ends the client
 *   sessions that are left and reads pg_current_wal_insert_lsn(); then waits, bounded, until the replica's
 *   pg_last_wal_replay_lsn() reaches it. Not caught up → ReplicaNotCaughtUp (the workflow refuses).
 * - `estimate-rpo` (EstimateDataLoss, alarm-started): the heartbeat the replica replayed against the
 *   canary's last acknowledged one: what a failover now would lose.
 */

export interface VerifyWriteEvent {
  readonly action?: 'verify-write';
  readonly database: string;
  readonly target: FailoverTarget;
  readonly endpoint: string;
  readonly executionName: string;
}

export interface CatchUpEvent {
  readonly action: 'catch-up';
  readonly database: string;
  readonly target: FailoverTarget;
  /** The old primary's endpoint address (preflight facts). */
  readonly primaryEndpoint: string | null;
  /** The replica's endpoint address (preflight facts). */
  readonly replicaEndpoint: string | null;
  /** @default 300 */
  readonly timeoutSeconds?: number;
}

export interface EstimateRpoEvent {
  readonly action: 'estimate-rpo';
  readonly database: string;
  readonly target: FailoverTarget;
  readonly replicaEndpoint: string | null;
  /** The DynamoDB GetItem result of the canary's `heartbeat#<database>` item. */
  readonly acknowledged: unknown;
  readonly now?: string;
}

export type { VerifyWriteResult } from '#core/failover/failover-pg.ts';
export { verifyWrite } from '#core/failover/failover-pg.ts';

type Event = VerifyWriteEvent | CatchUpEvent | EstimateRpoEvent;

const common = { database: z.string().check(z.minLength(1)), target: failoverTarget };
const endpoint = z.nullable(z.string().check(z.minLength(1)));

/** The three actions' events, told apart by `action` (none: verify-write). */
export const VerifyWriteTaskEvent = as<Event>(
  z.discriminatedUnion('action', [
    z.looseObject({
      ...common,
      action: z.literal('catch-up'),
      primaryEndpoint: endpoint,
      replicaEndpoint: endpoint,
      timeoutSeconds: z.optional(z.number().check(z.positive())),
    }),
    z.looseObject({
      ...common,
      action: z.literal('estimate-rpo'),
      replicaEndpoint: endpoint,
      acknowledged: z.unknown(),
      now: z.optional(z.string().check(z.minLength(1))),
    }),
    z.looseObject({
      ...common,
      action: z.optional(z.literal('verify-write')),
      endpoint: z.string(),
      executionName: z.string().check(z.minLength(1)),
    }),
  ]),
);

export interface VerifyWriteDeps {
  /** Connection details from the target's secret, at `host`. */
  readonly connect: (secretArn: string, host: string) => Promise<ConnectionInfo>;
  readonly logger: Pick<Logger, 'info'>;
}

/** The action the event names, on the databases the target's secret opens. */
export async function runVerifyWrite(event: Event, deps: VerifyWriteDeps): Promise<unknown> {
  const { target, database } = event;
  if (!target.secretArn) {
    throw new WriteVerificationFailed(
      `the failover target of "${database}" has no secretArn: cannot connect to its databases`,
    );
  }
  const secret = target.secretArn;
  switch (event.action) {
    case 'catch-up': {
      if (!event.primaryEndpoint || !event.replicaEndpoint) {
        throw new ReplicaNotCaughtUp(
          `the ${event.primaryEndpoint ? 'replica' : 'old primary'}'s endpoint is not known: nothing proves the replica has every commit`,
        );
      }
      const primary = await deps.connect(secret, event.primaryEndpoint);
      const replica = await deps.connect(secret, event.replicaEndpoint);
      const result = await catchUp(
        () => fencedPrimaryLsn(primary),
        () => replayLsn(replica),
        { timeoutMs: (event.timeoutSeconds ?? 300) * 1000 },
      );
      deps.logger.info('catch-up', { database, ...result });
      return result;
    }
    case 'estimate-rpo': {
      const replica = event.replicaEndpoint ? await deps.connect(secret, event.replicaEndpoint) : null;
      return estimateDataLoss(replica, event.acknowledged, event.now ? new Date(event.now) : new Date());
    }
    default:
      return verifyWrite(await deps.connect(secret, event.endpoint), event.executionName);
  }
}

export const handler = lambdaHandler(
  { service: 'wf-verify-write', event: VerifyWriteTaskEvent },
  (event, { logger }) => runVerifyWrite(event, { connect: connectionAt, logger }),
);
