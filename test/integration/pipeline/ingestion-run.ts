/** Test helper: run the ingestion CLI as the supervisor does (argv, no shell) and collect its output. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const REPO = path.resolve(__dirname, '../../..');
export const CLI = path.join(REPO, 'stack/pipeline/ingestion/cli.ts');
export const TSX = path.join(REPO, 'node_modules/.bin/tsx');
export const SHIPPED_SOURCES = path.join(REPO, 'stack/pipeline/sources.yaml');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** the single JSON line on stdout */
  summary: {
    ok: boolean;
    runId: string;
    topic: string;
    error?: string;
    durationMs: number;
    sources: Record<string, { fetched: number; valid: number; invalid: number; duplicates: number; produced: number; error?: string }>;
  };
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(TSX, [CLI, ...args], { cwd: REPO, env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const lines = stdout.split('\n').filter((l) => l.trim() !== '');
      if (lines.length !== 1) {
        reject(new Error(`expected exactly one stdout line, got ${lines.length}:\n${stdout}\nstderr:\n${stderr.slice(-3000)}`));
        return;
      }
      resolve({ code, signal, stdout, stderr, summary: JSON.parse(lines[0]!) as CliResult['summary'] });
    });
  });
  return { child, done };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(args, env).done;
}
