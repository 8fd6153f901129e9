/**
 * The fault world, for any workflow's property suite: the stateful fake AWS, fault schedules and
 * their Step Functions error names, and the runner that executes pinned ASL against both.
 * A suite adds its scenarios, its Lambda tasks bound to the world, and its invariants
 * (restore-world.ts and restore-test-world.ts are the examples). See docs/testing.md.
 */
export {
  appliesCall,
  FAULT_KINDS,
  type Fault,
  type FaultKind,
  type FaultSchedule,
  faultError,
  faultFor,
  faultScheduleArb,
  integrationOf,
  propertySettings,
  singleTransientArb,
  TRANSIENT,
} from './faults.ts';
export {
  type LambdaHandler,
  type PreparedWorkflow,
  pinnedAsl,
  prepare,
  retryDelay,
  runInWorld,
  type WorldRun,
} from './runner.ts';
export { enteredCounts, printStats, recordRun, runStats, watchStates } from './stats.ts';
export {
  type ApprovalAnswer,
  awsError,
  FakeAws,
  type Promotion,
  type Publish,
  type Removal,
  type SdkClientOptions,
  type WorldOptions,
} from './world.ts';
