// Notifications: lifeboat's events, how they travel through SNS, and how on-call sees them.
// The event schema: types, severities, figures, makeEvent.
export * from './events.ts';
// Console links of executions, log groups and alarms.
export * from './links.ts';
// publishEvent: one event to the topic, bounded in time, never throwing.
export * from './publish.ts';
// eventFromSnsRecord: what SNS delivers, read back into an event.
export * from './decode.ts';
// Slack rendering and routing by severity.
export * from './slack.ts';
// announce: a function's outcome as an event, from its Lambda environment.
export * from './announce.ts';
