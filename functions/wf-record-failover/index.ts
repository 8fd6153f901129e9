import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { type FailoverRequest, type FailoverTarget } from '#core/failover/failover.ts';
import { buildFailoverRecord, failoverRecordKey } from '#core/failover/record.ts';
import { DIMENSION, METRIC } from '#core/shared/metrics.ts';
import type { Repository } from '#core/repository/types.ts';
import * as z from '#core/shared/zod.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { handlerMetrics } from '#runtime/metrics.ts';
import { repositoryFromEnv } from '../wf-common/index.ts';
import { as, failoverTarget } from '../wf-common/events.ts';
import { COMMON_ENV } from '#core/contracts/function-env.ts';

/**
 * RecordFailover: the failover record (RTO from the start until the new primary took a verified
 * write and DNS pointed at it, RPO = lag at start).
 */

export interface RecordFailoverEvent {
  readonly executionId: string;
  readonly executionName: string;
  readonly startedAt: string;
  readonly request: FailoverRequest;
  readonly target: FailoverTarget;
  readonly rpoSeconds: number | null;
  readonly verifiedWriteAt: string;
  readonly fence: string;
  /** The DNS change as the workflow last saw it ({ changeId, status }); INSYNC means switched. */
  readonly dns?: { readonly status?: string } | null;
  /** When the RecordFailover state was entered: after the DNS change was INSYNC. */
  readonly recordedAt?: string;
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
  const record = buildFailoverRecord({
    ...event,
    dnsSwitchedAt: event.dns?.status === 'INSYNC' ? (event.recordedAt ?? null) : null,
  });
  const key = failoverRecordKey(record.database, record.verifiedWriteAt, event.executionName);
  await repository.putOnce(key, `${JSON.stringify(record, null, 2)}\n`);
  return { recorded: true, key, rtoSeconds: record.rtoSeconds, rpoSeconds: record.rpoSeconds };
}

/** The failover's RTO and RPO as metrics (Environment, Database), for the DR dashboard. */
export function recordFailoverMetrics(
  sink: Pick<Metrics, 'addMetric' | 'addDimensions'>,
  environment: string,
  database: string,
  result: RecordFailoverResult,
): void {
  sink.addDimensions({ [DIMENSION.environment]: environment, [DIMENSION.database]: database });
  sink.addMetric(METRIC.failoverRtoSeconds, MetricUnit.Seconds, result.rtoSeconds);
  // A forced failover without a lag reading has no RPO figure, rather than a made-up one.
  if (result.rpoSeconds !== null)
    sink.addMetric(METRIC.failoverRpoSeconds, MetricUnit.Seconds, result.rpoSeconds);
}

export const RecordFailoverEvent = as<RecordFailoverEvent>(
  z.looseObject({
    executionId: z.string().check(z.minLength(1)),
    executionName: z.string().check(z.minLength(1)),
    startedAt: z.string().check(z.minLength(1)),
    request: z.looseObject({ database: z.string().check(z.minLength(1)) }),
    target: failoverTarget,
    rpoSeconds: z.nullable(z.number()),
    verifiedWriteAt: z.string().check(z.minLength(1)),
    fence: z.string(),
    dns: z.nullish(z.looseObject({ status: z.optional(z.string()) })),
    recordedAt: z.optional(z.string().check(z.minLength(1))),
  }),
);

export const handler = lambdaHandler(
  { service: 'wf-record-failover', metrics: handlerMetrics, event: RecordFailoverEvent },
  async (event, { metrics }) => {
    const result = await recordFailover(event, repositoryFromEnv());
    recordFailoverMetrics(
      metrics,
      process.env[COMMON_ENV.environment] ?? 'unknown',
      event.target.database,
      result,
    );
    return result;
  },
);
