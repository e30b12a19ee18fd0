/** What every scenario returns: one row per measured figure, written to results JSON and BENCHMARKS.md. */
export interface Row {
  scenario: string;
  metric: string;
  unit: string;
  /** The supervisor's figure (null when it could not be measured; see note). */
  supervisor: number | null;
  /** Each peer's figure, or a string saying why there is none. */
  peers: Record<string, number | string>;
  /** peer / supervisor for the fastest/lightest peer ("× better"); null without a peer figure. */
  ratio: number | null;
  goal: string;
  met: boolean | null;
  /** Peers shown for reference but not counted in the ratio (e.g. a one-shot CLI, not an exporter). */
  ratioExcludes?: string[];
  /** The goal's "≥ N× better than the best peer" part, when it has one (re-checked after carry-over). */
  ratioGoal?: number;
  /** Exactly how the figure was taken. */
  method: string;
  note?: string;
  /** Raw samples and extra detail for the JSON file. */
  detail?: unknown;
}

export interface ScenarioContext {
  reps: number;
  skipPeers: boolean;
  /** Folder for peer installs and scratch (git-ignored). */
  work: string;
  log: (msg: string) => void;
  /** Scenario-specific options from the command line (`--soak-minutes 10`). */
  args: Record<string, string>;
  /** Records how a peer was installed, or why it could not be (shown in BENCHMARKS.md). */
  peer(name: string, status: string): void;
}

export interface Scenario {
  id: string;
  title: string;
  goal: string;
  run(ctx: ScenarioContext): Promise<Row[]>;
  /** What limits the figure / what we found while profiling (written under the table). */
  limits?: string;
}

/** ratio = peer / supervisor when lower is better. */
export function betterRatio(supervisor: number | null, peers: Record<string, number | string>): number | null {
  const nums = Object.values(peers).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (supervisor === null || nums.length === 0 || supervisor <= 0) return null;
  return Number((Math.min(...nums) / supervisor).toFixed(1));
}
