// The evidence report: built from the catalog, rendered, published on a schedule.
// buildReport, and the report's shape.
export * from './report.ts';
export * from './report-model.ts';
// Renderings: HTML, Markdown and the wording both share.
export * from './report-html.ts';
export * from './report-md.ts';
export * from './report-text.ts';
// The scheduled report of an environment.
export * from './report-publish.ts';
