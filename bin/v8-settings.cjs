'use strict';
/**
 * V8 settings of the supervisor's process, applied by the launcher (bin/supervisor.js) and by the
 * benchmarks that run the supervisor's code in their own process. All are memory settings
 * measured in bench scenarios 2, 6 and 8; none changes behaviour.
 */
const v8 = require('node:v8');

/**
 * @param {{ youngMb?: number }} [options] the young generation's cap (new space, both semi-spaces)
 */
function applyV8Settings(options = {}) {
  // WebAssembly with V8's baseline compiler only. undici parses HTTP with llhttp compiled to wasm;
  // V8's optimizing wasm compiler takes ≈ 40 MB of malloc'd zone memory for it at the first
  // request, and glibc keeps ≈ 10 MB of that resident for the life of the process. Liftoff code
  // parses the few KB the checks and sinks exchange just as fast.
  v8.setFlagsFromString('--liftoff-only');
  // After a major GC the old generation may grow by 25 % before the next one. V8's own factor
  // rises to ≈ 4× the live heap when GC is fast, which is most of RSS when the live heap is large
  // and short-lived data is big: bench scenario 8 (10,000 groups × 20 partitions, 65 MB live, each
  // cycle's signals ≈ 45 MB) ran at RSS 368–442 MB, peak 482, and with this at 306–310 MB, peak
  // 345, lag cycles 205–400 ms and scrapes p95 238 ms (load 1.7–2.5, 2026-12-01). Measured the
  // same in scenario 2 (RSS 113.1 MB, start → ready 796 ms; 113.1 and 806 without it) and
  // scenario 6 (40,000 series: p95 31.7 ms, every signal new 87.6 ms; 42.5 and 97.0 this morning).
  v8.setFlagsFromString('--heap-growing-percent=25');
  // The young generation grows to `youngMb` and no further. V8 doubles it whenever enough objects
  // have survived scavenges since the last growth (a count that only goes up), up to 2 × 16 MB, so
  // a daemon that runs for minutes ended with ≈ 33 MB of mostly empty new space: RSS went from
  // ≈ 100 MB at one minute to ≈ 125 MB at five. Held at 2 × 1 MB instead, a 40,000-series /metrics
  // scrape took twice as long (more scavenges, more promotion), hence a middle size. Growth is
  // allowed again if V8 shrinks the space below the cap. The check is a 5 s timer that does not
  // keep the process alive.
  const capBytes = (options.youngMb ?? 8) * 1024 * 1024;
  let frozen = false;
  const hold = () => {
    const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    const full = young !== undefined && young.space_size >= capBytes;
    if (full !== frozen) v8.setFlagsFromString(full ? '--semi-space-growth-factor=1' : '--semi-space-growth-factor=2');
    frozen = full;
  };
  hold();
  setInterval(hold, 5_000).unref();
}

module.exports = { applyV8Settings };
