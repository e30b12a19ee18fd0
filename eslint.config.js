// @ts-check
/**
 * Lint: ESLint with typescript-eslint's type-aware rules, Prettier for layout (eslint-config-prettier
 * turns off the rules it owns), and the import direction of the architecture as boundary rules
 * (eslint-plugin-boundaries): see the README's architecture table.
 */
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const boundaries = require('eslint-plugin-boundaries');
const prettier = require('eslint-config-prettier');

/** The architecture's layers and what each may import (besides itself and npm packages). */
const elements = [
  { type: 'test', pattern: 'test/**/*' },
  { type: 'bench', pattern: 'bench/**/*' },
  { type: 'protocol', pattern: 'src/protocol/**/*' },
  { type: 'shared', pattern: 'src/shared/**/*' },
  { type: 'app', pattern: 'src/**/*' },
  { type: 'checks', pattern: 'checks/**/*' },
  { type: 'streams', pattern: 'streams/**/*' },
  { type: 'alerts', pattern: 'alerts/**/*' },
  { type: 'grafana', pattern: 'grafana/**/*' },
  // the demo runs the supervisor itself (an entry point like bin/ and bench/); the rest of stack/ only installs and runs services
  { type: 'demo', pattern: 'stack/demo.ts' },
  { type: 'stack', pattern: 'stack/**/*' },
  { type: 'bin', pattern: 'bin/**/*' },
];

/** Node's CommonJS globals, for the .js/.cjs files (the `globals` package is not a dependency). */
const nodeGlobals = Object.fromEntries(
  [
    'require',
    'module',
    'exports',
    '__dirname',
    '__filename',
    'process',
    'console',
    'Buffer',
    'URL',
    'URLSearchParams',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'queueMicrotask',
    'AbortController',
    'AbortSignal',
    'TextEncoder',
    'TextDecoder',
    'structuredClone',
    'performance',
    'fetch',
    'globalThis',
  ].map((name) => [name, 'readonly']),
);

/** The browser globals the web UI's modules use. */
const browserGlobals = Object.fromEntries(
  [
    'window',
    'document',
    'location',
    'history',
    'fetch',
    'EventSource',
    'FormData',
    'URLSearchParams',
    'Node',
    'console',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'requestAnimationFrame',
  ].map((name) => [name, 'readonly']),
);

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.stack/**', 'bench/.work/**', 'bench/peers/otelcol/**', 'coverage/**'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  { languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: __dirname } } },
  {
    rules: {
      // Many async functions here conform to a Promise-returning interface (kafkajs's oauthBearerProvider,
      // sinks, stores, test doubles) without awaiting anything; making them non-async would turn their
      // throws into synchronous ones. The real mistakes are caught by no-floating-promises,
      // no-misused-promises and await-thenable.
      '@typescript-eslint/require-await': 'off',
      // `_`-prefixed parameters and variables are deliberately unused (positional callbacks, destructuring out).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests read JSON answers (`res.json()`, inject payloads) as `any` and check them with expect():
    // the assertion is the type check, so typing each answer first adds ceremony, not safety.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The plain JavaScript files (bin/, stack/bootstrap.cjs, bench/lib/*.cjs, src/engine/task-wrapper.cjs,
    // test fixtures, the config files) are CommonJS run by Node directly: no type information (they are
    // outside tsconfig.json, and typing them through the default project hits its file limit), Node's
    // globals, and `require` is how CommonJS imports.
    files: ['**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { sourceType: 'commonjs', parserOptions: { projectService: false }, globals: nodeGlobals },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The web UI's client code (src/ui/): ES modules run by the browser, served as written (no build).
    files: ['src/ui/**/*.js'],
    languageOptions: { sourceType: 'module', globals: browserGlobals },
  },
  {
    files: ['**/*.ts'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': elements.map((e) => ({ ...e, mode: 'full' })),
      'boundaries/root-path': __dirname,
      'import/resolver': { node: { extensions: ['.ts', '.js', '.cjs', '.json'] } },
    },
    rules: {
      'boundaries/no-unknown': 'off',
      'boundaries/element-types': [
        'error',
        {
          default: 'disallow',
          message: '${file.type} may not import ${dependency.type} (the import direction is in the README architecture table)',
          rules: [
            { from: 'protocol', allow: ['protocol'] },
            { from: 'shared', allow: ['protocol', 'shared'] },
            { from: 'checks', allow: ['protocol', 'shared', 'checks'] },
            { from: 'streams', allow: ['protocol', 'shared', 'streams'] },
            { from: 'alerts', allow: ['protocol', 'shared', 'alerts'] },
            { from: 'app', allow: ['protocol', 'shared', 'checks', 'streams', 'alerts', 'app', 'grafana'] },
            { from: 'grafana', allow: ['protocol', 'shared', 'grafana'] },
            { from: 'stack', allow: ['stack', 'protocol', 'shared'] },
            { from: ['bench', 'test', 'bin', 'demo'], allow: ['protocol', 'shared', 'checks', 'streams', 'alerts', 'app', 'grafana', 'stack', 'bench', 'test', 'bin'] },
          ],
        },
      ],
    },
  },
  prettier,
);
