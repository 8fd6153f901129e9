// Notifications: lifeboat's events, their Slack rendering, and announcing what a function did.
export * from './events.ts';
export * from './slack.ts';
export * from './announce.ts';
