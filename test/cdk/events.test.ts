import { describe, expect, it } from 'vitest';
import {
  formatCompression,
  parseCompression,
  resolveCompression,
} from '../../functions/core/dumps/compression.ts';
import { parsePruneEvent } from '../../functions/core/retention/prune-settings.ts';
import { parseTakeSnapshotEvent } from '../../functions/core/snapshots/take-snapshot.ts';
import { LogicalDumpEvent } from '../../functions/logical-dump/index.ts';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import { dumpEvent, pruneEvent, snapshotEvent } from '../../lib/events.ts';

// The schedules' inputs are a contract with the handlers: each is checked against the handler's
// own parser, for every database of every example environment.
describe.each(Object.keys(ENVIRONMENTS))('events of environment %s', (name) => {
  const config = loadEnvironmentConfig(name);

  it.each(config.databases.map((db) => [db.name, db] as const))(
    'take-snapshot accepts the event of %s',
    (_, db) => {
      const event = snapshotEvent(db);
      // Scheduler replaces the placeholder with the slot's time.
      expect(event.scheduledTime).toBe('<aws.scheduler.scheduled-time>');

      const parsed = parseTakeSnapshotEvent({ ...event, scheduledTime: '2026-11-23T02:00:00Z' });

      expect(parsed).toMatchObject({
        database: db.name,
        identifier: db.identifier,
        type: db.kind,
        policy: db.policy,
      });
    },
  );

  it.each(config.databases.map((db) => [db.name, db] as const))(
    'logical-dump accepts the event of %s',
    (_, db) => {
      const policy = db.policySettings;
      const parsed = LogicalDumpEvent.parse(dumpEvent(db, policy));

      expect(parsed).toEqual({
        database: db.name,
        secretArn: db.secretArn,
        ...(db.dbname ? { dbname: db.dbname } : {}),
        compression: formatCompression(resolveCompression(policy.compression)),
        // Only the Fargate task of a large database dumps with several workers.
        ...(db.large ? { jobs: db.dumpJobs ?? 2 } : {}),
      });
      expect(parseCompression(parsed.compression!)).toEqual(resolveCompression(policy.compression));
    },
  );

  it('prune accepts its event', () => {
    expect(parsePruneEvent(pruneEvent(config.pruneDryRun))).toEqual({ dryRun: config.pruneDryRun });
  });
});
