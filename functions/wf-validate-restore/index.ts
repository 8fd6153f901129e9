import * as z from '#core/shared/zod.ts';
import { planRestore } from '#core/restore/restore-plan.ts';
import { lambdaHandler } from '#runtime/handler.ts';

/** ValidateInput: the restore request, validated (InvalidRestoreInput names the field) and routed. */
export interface ValidateRestoreEvent {
  readonly input: unknown;
}

/** The envelope the state machine builds; planRestore checks the execution input itself. */
export const ValidateRestoreEvent = z.looseObject({ input: z.unknown() });

export const handler = lambdaHandler(
  { service: 'wf-validate-restore', event: ValidateRestoreEvent },
  async (event) => planRestore(event.input),
);
