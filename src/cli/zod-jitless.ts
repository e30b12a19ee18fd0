/**
 * zod without its JIT in the CLI's process. zod 4 compiles a fast path for each object schema
 * (generated source, `new Function`) the first time it parses with it; this process parses the
 * config once at start and a few small documents per check interval, so those compiled
 * functions were pure cost: ≈ 0.7 MB of heap and ≈ 10 ms of the default config's first load
 * (bench scenario 2). The results and error messages are zod's own interpreted path, the one it
 * takes wherever `eval` is unavailable. Imported by main.ts before anything that builds or uses
 * a schema at load (alerts/config.ts parses its default rules then).
 */
import { config } from 'zod';

config({ jitless: true });
