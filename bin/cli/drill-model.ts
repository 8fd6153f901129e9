import { type RpoEstimate } from '#core/failover/heartbeat.ts';

/** What `lifeboat drill` is asked (scenario, options) and what it reports, step by step. */

export interface DrillStep {
  readonly name: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly detail: string;
}

/** What the drill proves: a planned switchover, or the primary lost mid-write. */
export type DrillScenario = 'planned' | 'primary-lost';

export interface DrillReport {
  readonly passed: boolean;
  readonly scenario: DrillScenario;
  /** Replication delay between the primary and the standby, in seconds (`--lag`). */
  readonly lagSeconds: number;
  readonly steps: DrillStep[];
  readonly backupId: string | null;
  /**
   * Planned: execution start → verified write on the new primary. Primary lost: the primary's
   * death → verified write (detection, alarm, approval and failover included).
   */
  readonly rtoSeconds: number | null;
  /** Primary lost: the primary's death → the failover trigger's alarm (the canary's detection). */
  readonly detectionSeconds: number | null;
  /** Execution start → verified write on the new primary (the workflow alone). */
  readonly workflowSeconds: number | null;
  /** What the application saw: rows it had acknowledged, of those found on the new primary, lost. */
  readonly application: {
    readonly acknowledged: number;
    readonly found: number | null;
    readonly lost: number | null;
    /** The primary's death − the acknowledgement of the oldest lost row: the measured RPO (0: none lost). */
    readonly lostWindowSeconds: number | null;
  };
  /**
   * The RPO estimate shown to the person approving (last heartbeat acknowledged by the primary vs.
   * the one the standby replayed, estimateRpo of core/failover/heartbeat.ts), with its figures; primary-lost only.
   */
  readonly rpoEstimate: (RpoEstimate & { readonly at: string }) | null;
  /** The failover trigger: the canary's runs, and the event that started the workflow. */
  readonly trigger: {
    readonly canaryRuns: number;
    readonly canaryFailures: number;
    readonly lastAcknowledgedSeq: number | null;
    readonly alarmName: string;
    readonly executionName: string | null;
    readonly startReason: string | null;
    /** The approval-needed notification the workflow sent (what the person deciding sees). */
    readonly approvalMessage: Record<string, unknown> | null;
    /** The canary saw the new primary take its heartbeat through the switched endpoint record. */
    readonly canaryFollowedNewPrimary: boolean;
  } | null;
  /** Committed (acknowledged) rows the new primary does not have (= application.lost). */
  readonly rpoRowsLost: number | null;
  readonly lagAtTriggerSeconds: number | null;
  readonly lagAtTriggerBytes: number | null;
  /** How long the application's writer saw no successful write. */
  readonly writerDowntimeMs: number | null;
  readonly rowsWritten: number;
  readonly failoverPath: string[];
  readonly repository: string;
}

export interface DrillOptions {
  /** Keep backups here; a temporary directory (removed afterwards) otherwise. */
  readonly repo?: string | undefined;
  readonly s3Endpoint?: string | undefined;
  /** @default 'planned' */
  readonly scenario?: DrillScenario;
  /** Seconds the standby receives the primary's WAL late (the cross-region link). @default 0 */
  readonly lagSeconds?: number;
  readonly rows?: number;
  /** The canary's period: the drill's "minute". @default 250 */
  readonly canaryIntervalMs?: number;
  /** Failed canary runs in a row that make the trigger alarm (alarms.primaryUnwritableMinutes). @default 3 */
  readonly unwritableRuns?: number;
  readonly onStep?: (step: DrillStep) => void;
  readonly signal?: AbortSignal | undefined;
}
