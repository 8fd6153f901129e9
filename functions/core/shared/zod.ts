/**
 * The schema library every function uses: zod's tree-shakable "mini" form, with English messages.
 *
 * zod's classic form attaches some forty methods to every schema it builds and carries a JSON
 * Schema generator; in a handler bundle that cost 35–46 ms of cold init (Node 22, the Lambda
 * runtime) of which the mini form keeps about half (bench/README.md, cold init). The mini form
 * loads no locale by itself (every message would read "Invalid input"), so the English one is
 * configured here, before any schema parses: import `z` from this module, never from 'zod/mini'
 * directly (eslint enforces it in functions/).
 *
 * The CDK app and the CLI (lib/, bin/) keep zod's classic form; both forms share zod's core, so
 * a schema from functions/ nests inside a classic one and reports the same messages.
 */
// eslint-disable-next-line no-restricted-syntax -- the one place the functions' zod comes from
import en from 'zod/v4/locales/en.js';
// eslint-disable-next-line no-restricted-syntax -- as above
import * as z from 'zod/mini';

z.config(en());

// eslint-disable-next-line no-restricted-syntax -- as above
export * from 'zod/mini';
