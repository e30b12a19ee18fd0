/**
 * The test harness itself: which jest runs start the stack (unit-only runs start nothing), and
 * when dist/ counts as older than the sources (tests that spawn the CLI then rebuild it first).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildIsStale, newestSourceMtime } from '../../helpers/fresh-build';
import { needsStack, selectedProjectsFromArgv } from '../../helpers/global-setup';

describe('test harness: which runs need the stack', () => {
  it('reads --selectProjects from the command line (Jest 30 leaves it out of the global config)', () => {
    expect(selectedProjectsFromArgv(['node', 'jest', '--ci', '--selectProjects', 'unit'])).toEqual(['unit']);
    expect(selectedProjectsFromArgv(['node', 'jest', '--selectProjects', 'unit', 'e2e', '--ci'])).toEqual(['unit', 'e2e']);
    expect(selectedProjectsFromArgv(['node', 'jest', '--selectProjects=integration'])).toEqual(['integration']);
    expect(selectedProjectsFromArgv(['node', 'jest', '--ci'])).toBeUndefined();
  });

  it('a unit-only run needs no stack; integration, e2e or everything does', () => {
    const none = { testPathPatterns: { patterns: [] } };
    expect(needsStack(none, ['node', 'jest', '--selectProjects', 'unit'])).toBe(false);
    expect(needsStack(none, ['node', 'jest', '--selectProjects', 'unit', 'integration'])).toBe(true);
    expect(needsStack(none, ['node', 'jest', '--ci'])).toBe(true);
    expect(needsStack({ testPathPatterns: { patterns: ['test/unit/alerts'] } }, ['node', 'jest'])).toBe(false);
  });
});

describe('test harness: a stale build', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fresh-build-'));
    for (const f of ['tsconfig.json', 'tsconfig.build.json']) fs.writeFileSync(path.join(root, f), '{}');
    fs.mkdirSync(path.join(root, 'src', 'cli'), { recursive: true });
    fs.mkdirSync(path.join(root, 'dist', 'src', 'cli'), { recursive: true });
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const touch = (file: string, secondsAgo: number): void => {
    const full = path.join(root, file);
    if (!fs.existsSync(full)) fs.writeFileSync(full, '');
    const t = new Date(Date.now() - secondsAgo * 1000);
    fs.utimesSync(full, t, t);
  };

  it('is stale when missing, or older than any compiled source; tests are not sources', () => {
    const stamp = path.join(root, 'dist', 'src', 'cli', 'main.js');
    touch('tsconfig.json', 100);
    touch('tsconfig.build.json', 100);
    touch('src/cli/main.ts', 60);
    expect(buildIsStale(root, stamp)).toBe(true); // no build yet
    touch('dist/src/cli/main.js', 30);
    expect(buildIsStale(root, stamp)).toBe(false);
    touch('src/cli/main.test.ts', 1);
    expect(buildIsStale(root, stamp)).toBe(false);
    touch('src/cli/main.ts', 1);
    expect(buildIsStale(root, stamp)).toBe(true);
    expect(newestSourceMtime(root)).toBeGreaterThan(fs.statSync(stamp).mtimeMs);
  });
});
