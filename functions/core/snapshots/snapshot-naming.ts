import { createHash } from 'node:crypto';
import { isBackupId } from '../catalog/catalog.ts';
import { InvalidArgument } from '../shared/errors.ts';
import { SNAPSHOT_PREFIX, TAG } from '../contracts/index.ts';

/**
 * Names and tags of lifeboat's RDS snapshots. Everything is derived from the database and the
 * schedule slot, so a repeated or duplicate schedule event names the same snapshot, and a DR copy
 * carries the same identifier as its source (identifiers are per region).
 */

export type SnapshotType = 'instance' | 'cluster';

/** Tag keys on every lifeboat snapshot (copied to the DR copy with CopyTags): TAG of #core/contracts. */
export { TAG };

/** RDS limits: CreateDBSnapshot allows 255 characters, CreateDBClusterSnapshot 63. */
export const MAX_SNAPSHOT_IDENTIFIER: Record<SnapshotType, number> = { instance: 255, cluster: 63 };

const PREFIX = SNAPSHOT_PREFIX.slice(0, -1);

/** The schedule slot of a Scheduler event: its scheduled time, to the minute, in UTC. */
export function scheduleSlot(scheduledTime: string): Date {
  const at = Date.parse(scheduledTime);
  if (Number.isNaN(at) || !/^\d{4}-\d{2}-\d{2}T/.test(scheduledTime)) {
    throw new InvalidArgument(`scheduledTime "${scheduledTime}" is not an ISO 8601 time`);
  }
  return new Date(Math.floor(at / 60_000) * 60_000);
}

/** 202611230915 */
export function slotStamp(slot: Date): string {
  return slot.toISOString().slice(0, 16).replace(/[-:T]/g, '');
}

/** The value of the lifeboat:slot tag: 2026-11-23T09:15:00Z. */
export function slotTag(slot: Date): string {
  return `${slot.toISOString().slice(0, 19)}Z`;
}

/** Reads a lifeboat:slot tag back; null when absent or not a time. */
export function parseSlotTag(value: string | undefined): Date | null {
  if (value === undefined || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(value)) return null;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : new Date(at);
}

/**
 * `lifeboat-<identifier>-<yyyymmddhhmm>`, made valid for RDS: lowercase (RDS stores it so, and a
 * describe must find it again), letters/digits/hyphens only, starts with a letter, no double or
 * trailing hyphen, within the type's length limit. An identifier too long to fit is cut and given
 * a short hash of the full one, so two long identifiers sharing a prefix still differ.
 */
export function snapshotIdentifier(identifier: string, slot: Date, type: SnapshotType): string {
  const clean = sanitize(identifier);
  if (clean === '') throw new InvalidArgument(`database identifier "${identifier}" has no letters or digits`);
  const stamp = slotStamp(slot);
  const max = MAX_SNAPSHOT_IDENTIFIER[type];
  const whole = `${PREFIX}-${clean}-${stamp}`;
  if (whole.length <= max) return whole;
  const hash = createHash('sha256').update(identifier).digest('hex').slice(0, 6);
  const room = max - `${PREFIX}--${hash}-${stamp}`.length;
  const cut = sanitize(clean.slice(0, room));
  return `${PREFIX}-${cut}-${hash}-${stamp}`;
}

function sanitize(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

const VALID = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** RDS's rules for a snapshot identifier (in the lowercase form RDS stores). */
export function isValidSnapshotIdentifier(value: string, type: SnapshotType): boolean {
  return value.length >= 1 && value.length <= MAX_SNAPSHOT_IDENTIFIER[type] && VALID.test(value);
}

/**
 * The catalog id of a snapshot in one region: `20261123T091500Z-rds-eu-west-1`. Source and DR
 * copy share the slot and differ by region, so each has its own write-once manifest.
 */
export function snapshotBackupId(slot: Date, region: string): string {
  const compact = slot
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const id = `${compact}-rds-${region.toLowerCase().replace(/[^0-9a-z-]/g, '')}`;
  if (!isBackupId(id)) throw new InvalidArgument(`cannot make a backup id from region "${region}"`);
  return id;
}

export interface SnapshotTagValues {
  readonly policy: string;
  readonly slot: Date;
  readonly environment: string;
  readonly database: string;
}

export function snapshotTags(values: SnapshotTagValues): { Key: string; Value: string }[] {
  return [
    { Key: TAG.policy, Value: values.policy },
    { Key: TAG.slot, Value: slotTag(values.slot) },
    { Key: TAG.environment, Value: values.environment },
    { Key: TAG.database, Value: values.database },
  ];
}

export function tagRecord(
  tags: readonly { Key?: string | undefined; Value?: string | undefined }[] | undefined,
) {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}

/** Region of an RDS ARN (arn:aws:rds:eu-west-1:123456789012:snapshot:name); null if not one. */
export function arnRegion(arn: string): string | null {
  const parts = arn.split(':');
  return parts.length >= 7 && parts[0] === 'arn' && parts[2] === 'rds' && parts[3] ? parts[3] : null;
}
