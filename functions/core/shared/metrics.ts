// The metric names are a contract of the functions and the infrastructure: see #core/contracts.
export * from '../contracts/metrics.ts';
