import {
  buildFailoverRecord,
  type FailoverRequest,
  type FailoverTarget,
  failoverRecordKey,
} from '#core/failover.ts';
import type { Repository } from '#core/repository/types.ts';
import { repositoryFromEnv, taskHandler } from '../wf-common/index.ts';

/** RecordFailover: the failover record (RTO from start to verified write, RPO = lag at start). */

export interface RecordFailoverEvent {
  readonly executionId: string;
  readonly executionName: string;
  readonly startedAt: string;
  readonly request: FailoverRequest;
  readonly target: FailoverTarget;
  readonly rpoSeconds: number | null;
  readonly verifiedWriteAt: string;
  readonly fence: string;
}

export interface RecordFailoverResult {
  readonly recorded: true;
  readonly key: string;
  readonly rtoSeconds: number;
  readonly rpoSeconds: number | null;
}

export async function recordFailover(
  event: RecordFailoverEvent,
  repository: Repository,
): Promise<RecordFailoverResult> {
  const record = buildFailoverRecord(event);
  const key = failoverRecordKey(record.database, record.verifiedWriteAt, event.executionName);
  await repository.putOnce(key, `${JSON.stringify(record, null, 2)}\n`);
  return { recorded: true, key, rtoSeconds: record.rtoSeconds, rpoSeconds: record.rpoSeconds };
}

export const handler = taskHandler<RecordFailoverEvent, RecordFailoverResult>('wf-record-failover', (event) =>
  recordFailover(event, repositoryFromEnv()),
);
