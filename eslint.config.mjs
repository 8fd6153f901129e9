// Lint: ESLint's and typescript-eslint's recommended rules (formatting is Prettier's job).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The core is the pure heart the CLI, the drill and every function share: it knows nothing of the
 * infrastructure (CDK), of Lambda plumbing (middy, functions/runtime, the handlers) or of the CLI,
 * and it receives the AWS SDK clients it uses, it never builds one. `depth`: how many `../` leave
 * functions/core from the files matched.
 */
function coreBoundary(files, depth) {
  const infrastructure = 'functions/core knows nothing of the infrastructure';
  return {
    files: [files],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'aws-cdk-lib', message: infrastructure },
            { name: 'constructs', message: infrastructure },
          ],
          patterns: [
            { group: ['aws-cdk-lib/*', 'constructs/*'], message: infrastructure },
            {
              group: ['@middy/*'],
              message: 'Lambda middlewares belong to the handlers and functions/runtime',
            },
            {
              regex: `^(\\.\\./){${depth},}(?!core/)`,
              message:
                'functions/core imports nothing from outside it: not lib/, bin/, state-machines/, functions/runtime or a handler',
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        ZOD_MINI,
        {
          selector: 'NewExpression[callee.name=/Client$/]',
          message:
            'functions/core receives AWS SDK clients from its caller (handler or CLI); it does not build them',
        },
      ],
    },
  };
}

// The functions use zod's mini form, with English messages, from functions/core/shared/zod.ts: the
// classic form cost every handler about 20 ms of cold init (bench/README.md), and zod/mini alone
// has no messages ("Invalid input"). Type-only imports cost nothing. test/unit/bundle-size.test.ts
// checks the bundles themselves.
const ZOD_MINI = {
  selector:
    ":matches(ImportDeclaration[importKind='value'], ExportAllDeclaration[exportKind='value'], ExportNamedDeclaration[exportKind='value'])[source.value=/^zod($|\\/)/]",
  message: "import * as z from '#core/shared/zod.ts' (zod's mini form, English messages)",
};

// A handler takes its AWS SDK clients from functions/runtime/clients.ts (awsClient, clientsByRegion):
// one instance per client type, region and named retry setting, none built at module load.
const SDK_CLIENT_OUTSIDE_RUNTIME = {
  selector: 'NewExpression[callee.name=/Client$/]',
  message:
    'AWS SDK clients come from functions/runtime/clients.ts (awsClient, clientsByRegion); only functions/runtime and bin/ build them',
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'cdk.out/',
      'cdk.out.*/',
      '.cdk-home/',
      // The CLI's bundle (bin/cli-bundle.mjs), built from the sources linted here.
      '.lifeboat/',
      'coverage/',
      'bench/.data/',
      'bench/_*',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        structuredClone: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['functions/**/*.ts'],
    rules: { 'no-restricted-syntax': ['error', ZOD_MINI, SDK_CLIENT_OUTSIDE_RUNTIME] },
  },
  // functions/runtime is where a function gets its SDK clients (cached, named retry settings).
  {
    files: ['functions/runtime/**/*.ts'],
    rules: { 'no-restricted-syntax': ['error', ZOD_MINI] },
  },
  // The stacks and the state machines build no SDK client either (the CLI, bin/, builds its own).
  {
    files: ['lib/**/*.ts', 'state-machines/**/*.ts'],
    rules: { 'no-restricted-syntax': ['error', SDK_CLIENT_OUTSIDE_RUNTIME] },
  },
  // The core boundary, for the domain folders (functions/core/<domain>/) and for any file directly
  // in functions/core/ (one folder less to climb out of the core).
  coreBoundary('functions/core/*/**/*.ts', 2),
  coreBoundary('functions/core/*.ts', 1),
);
