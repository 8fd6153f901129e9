import * as z from '../shared/zod.ts';
import { CATALOG_PREFIX, FAILOVERS_FOLDER } from '../contracts/storage.ts';
import type { FailoverRequest, FailoverTarget } from './failover.ts';
import { InvalidFailoverInput } from './failover.ts';

/** The catalog document a failover leaves behind: evidence of RTO and RPO. */
export const FailoverRecord = z.strictObject({
  kind: z.literal('failover'),
  database: z.string(),
  executionId: z.string(),
  mode: z.enum(['planned', 'unplanned']),
  trigger: z.enum(['manual', 'alarm']),
  /** The alarm that started an alarm-started failover. */
  alarmName: z.optional(z.string()),
  reason: z.string(),
  from: z.strictObject({ region: z.string(), identifier: z.string() }),
  to: z.strictObject({ region: z.string(), identifier: z.string() }),
  startedAt: z.iso.datetime(),
  verifiedWriteAt: z.iso.datetime(),
  /** When the DNS record pointed at the new primary (INSYNC); absent without a record. */
  dnsSwitchedAt: z.optional(z.iso.datetime()),
  /**
   * From the start of the execution until the new primary took a verified write and (with a DNS
   * record) the record pointed at it: the later of the two.
   */
  rtoSeconds: z.number().check(z.nonnegative()),
  /** Replication lag at the start; null when it was unknown (a forced failover). */
  rpoSeconds: z.nullable(z.number().check(z.nonnegative())),
  fence: z.string(),
  forced: z.boolean(),
});
export type FailoverRecord = z.infer<typeof FailoverRecord>;

/** Catalog key of a failover record: beside the backups, under a segment no backup id can take. */
export function failoverRecordKey(database: string, at: string, executionName: string): string {
  const stamp = new Date(at)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  return `${CATALOG_PREFIX}${encodeURIComponent(database)}/${FAILOVERS_FOLDER}/${stamp}-${executionName.replace(/[^A-Za-z0-9-_]/g, '-')}.json`;
}

export function buildFailoverRecord(args: {
  readonly target: FailoverTarget;
  readonly request: FailoverRequest;
  readonly executionId: string;
  readonly startedAt: string;
  readonly verifiedWriteAt: string;
  readonly rpoSeconds: number | null;
  readonly fence: string;
  readonly dnsSwitchedAt?: string | null;
}): FailoverRecord {
  const started = Date.parse(args.startedAt);
  const verified = Date.parse(args.verifiedWriteAt);
  const switched = args.dnsSwitchedAt ? Date.parse(args.dnsSwitchedAt) : null;
  if (Number.isNaN(started) || Number.isNaN(verified) || Number.isNaN(switched)) {
    throw new InvalidFailoverInput('startedAt, verifiedWriteAt and dnsSwitchedAt must be ISO timestamps');
  }
  const done = Math.max(verified, switched ?? verified);
  return FailoverRecord.parse({
    kind: 'failover',
    database: args.request.database,
    executionId: args.executionId,
    mode: args.request.mode,
    trigger: args.request.trigger.source,
    ...('alarmName' in args.request.trigger && args.request.trigger.alarmName
      ? { alarmName: args.request.trigger.alarmName }
      : {}),
    reason: args.request.reason,
    from: { ...args.target.primary },
    to: { ...args.target.replica },
    startedAt: new Date(started).toISOString(),
    verifiedWriteAt: new Date(verified).toISOString(),
    ...(switched === null ? {} : { dnsSwitchedAt: new Date(switched).toISOString() }),
    rtoSeconds: Math.max(0, (done - started) / 1000),
    rpoSeconds: args.rpoSeconds,
    fence: args.fence,
    forced: args.request.force,
  });
}
