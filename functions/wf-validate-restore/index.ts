import { type PlannedRestore, planRestore } from '#core/restore/restore-plan.ts';
import { taskHandler } from '../wf-common/index.ts';

/** ValidateInput: the restore request, validated (InvalidRestoreInput names the field) and routed. */
export interface ValidateRestoreEvent {
  readonly input: unknown;
}

export const handler = taskHandler<ValidateRestoreEvent, PlannedRestore>(
  'wf-validate-restore',
  async (event) => planRestore(event.input),
);
