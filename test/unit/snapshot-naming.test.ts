import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBackupId } from '../../functions/core/catalog/catalog.ts';
import {
  arnRegion,
  isValidSnapshotIdentifier,
  parseSlotTag,
  scheduleSlot,
  slotTag,
  snapshotBackupId,
  snapshotIdentifier,
  snapshotTags,
} from '../../functions/core/snapshots/snapshot-naming.ts';

const slot = new Date('2026-11-23T09:15:00Z');

describe('snapshot identifiers', () => {
  it('derives lifeboat-<identifier>-<yyyymmddhhmm> from the database and the slot', () => {
    expect(snapshotIdentifier('orders-db', slot, 'instance')).toBe('lifeboat-orders-db-202611230915');
    expect(snapshotIdentifier('orders-db', slot, 'cluster')).toBe('lifeboat-orders-db-202611230915');
  });

  it('sanitizes: lowercase, no double or trailing hyphen, letters/digits/hyphens only', () => {
    expect(snapshotIdentifier('Orders--DB_', slot, 'instance')).toBe('lifeboat-orders-db-202611230915');
    expect(snapshotIdentifier('-9 lives.db-', slot, 'instance')).toBe('lifeboat-9-lives-db-202611230915');
    expect(() => snapshotIdentifier('---', slot, 'instance')).toThrow(/no letters or digits/);
  });

  it('keeps a cluster snapshot identifier within 63 characters and two long identifiers apart', () => {
    // Prepare
    const a = `analytics-${'x'.repeat(52)}-a`;
    const b = `analytics-${'x'.repeat(52)}-b`;

    // Act
    const idA = snapshotIdentifier(a, slot, 'cluster');
    const idB = snapshotIdentifier(b, slot, 'cluster');

    // Assess
    expect(idA.length).toBeLessThanOrEqual(63);
    expect(idA).not.toBe(idB);
    expect(idA.endsWith('-202611230915')).toBe(true);
    expect(isValidSnapshotIdentifier(idA, 'cluster')).toBe(true);
    // The instance limit (255) leaves the same identifier whole.
    expect(snapshotIdentifier(a, slot, 'instance')).toBe(`lifeboat-${a}-202611230915`);
  });

  it('always yields a valid RDS identifier, whatever the input', () => {
    fc.assert(
      fc.property(
        fc
          .string({ minLength: 1, maxLength: 300, unit: 'grapheme-ascii' })
          .filter((s) => /[a-z0-9]/i.test(s)),
        fc.constantFrom<'instance' | 'cluster'>('instance', 'cluster'),
        fc.date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }),
        (identifier, type, at) => {
          const id = snapshotIdentifier(identifier, scheduleSlot(at.toISOString()), type);
          expect(isValidSnapshotIdentifier(id, type)).toBe(true);
          expect(id).toBe(snapshotIdentifier(identifier, scheduleSlot(at.toISOString()), type)); // deterministic
        },
      ),
      { numRuns: 500 },
    );
  });

  it('rejects what RDS rejects', () => {
    expect(isValidSnapshotIdentifier('a--b', 'instance')).toBe(false);
    expect(isValidSnapshotIdentifier('a-', 'instance')).toBe(false);
    expect(isValidSnapshotIdentifier('1a', 'instance')).toBe(false);
    expect(isValidSnapshotIdentifier('a_b', 'instance')).toBe(false);
    expect(isValidSnapshotIdentifier(`a${'b'.repeat(63)}`, 'cluster')).toBe(false);
    expect(isValidSnapshotIdentifier(`a${'b'.repeat(63)}`, 'instance')).toBe(true);
  });
});

describe('schedule slots, tags and backup ids', () => {
  it('truncates the scheduled time to the minute, so a late retry names the same slot', () => {
    expect(scheduleSlot('2026-11-23T09:15:42.123Z').toISOString()).toBe('2026-11-23T09:15:00.000Z');
    expect(scheduleSlot('2026-11-23T10:15:00+01:00').toISOString()).toBe('2026-11-23T09:15:00.000Z');
    expect(() => scheduleSlot('tomorrow')).toThrow(/scheduledTime "tomorrow"/);
  });

  it('writes and reads the slot tag', () => {
    expect(slotTag(slot)).toBe('2026-11-23T09:15:00Z');
    expect(parseSlotTag(slotTag(slot))?.toISOString()).toBe(slot.toISOString());
    expect(parseSlotTag('soon')).toBeNull();
    expect(parseSlotTag(undefined)).toBeNull();
  });

  it('tags policy, slot, environment and database', () => {
    expect(snapshotTags({ policy: 'gold', slot, environment: 'prod', database: 'orders' })).toEqual([
      { Key: 'lifeboat:policy', Value: 'gold' },
      { Key: 'lifeboat:slot', Value: '2026-11-23T09:15:00Z' },
      { Key: 'lifeboat:environment', Value: 'prod' },
      { Key: 'lifeboat:database', Value: 'orders' },
    ]);
  });

  it('gives source and copy distinct catalog ids the catalog accepts', () => {
    const source = snapshotBackupId(slot, 'eu-west-1');
    const copy = snapshotBackupId(slot, 'eu-central-1');
    expect(source).toBe('20261123T091500Z-rds-eu-west-1');
    expect(copy).not.toBe(source);
    expect(isBackupId(source) && isBackupId(copy)).toBe(true);
  });

  it('reads the region of an RDS ARN', () => {
    expect(arnRegion('arn:aws:rds:eu-west-1:123456789012:snapshot:lifeboat-x-202611230915')).toBe(
      'eu-west-1',
    );
    expect(arnRegion('lifeboat-x-202611230915')).toBeNull();
  });
});
