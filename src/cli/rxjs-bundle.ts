/**
 * The daemon loads rxjs as the one-file build its package ships (dist/bundles/rxjs.umd.min.js,
 * the same release) instead of its CommonJS tree: `require('rxjs')` there loads ≈ 870 modules,
 * which cost ≈ 5 MB of the daemon's resident memory (a module record, wrapper function, compiled
 * top-level code and source text each) and ≈ 100 ms of its start (bench scenario 2). Installed by
 * the CLI's entry (main.ts) before anything imports rxjs; jest resolves modules itself, so tests
 * of src/ run the CommonJS tree and the e2e tests, through bin/supervisor.js, this build.
 *
 * `rxjs` and `rxjs/operators` both resolve to the bundle (its operators are the same functions as
 * its top-level exports, as in the CommonJS tree). Any other rxjs entry would load a second copy
 * of the library beside it (its Observables and Subscriptions not those of the first), so it is
 * refused, naming this file.
 */
import Module from 'node:module';
import path from 'node:path';

interface ResolvingModule {
  _resolveFilename(request: string, parent: unknown, ...rest: unknown[]): string;
}

let installed = false;

export function useRxjsBundle(): void {
  if (installed) return;
  installed = true;
  const bundle = path.join(path.dirname(require.resolve('rxjs/package.json')), 'dist', 'bundles', 'rxjs.umd.min.js');
  const loader = Module as unknown as ResolvingModule;
  const resolve = loader._resolveFilename.bind(loader);
  loader._resolveFilename = (request, parent, ...rest) => {
    if (request === 'rxjs' || request === 'rxjs/operators') return bundle;
    if (request.startsWith('rxjs/') && request !== 'rxjs/package.json') {
      throw new Error(`${request}: the daemon loads rxjs from its one-file build, which src/cli/rxjs-bundle.ts maps for 'rxjs' and 'rxjs/operators' only`);
    }
    return resolve(request, parent, ...rest);
  };
}

useRxjsBundle();
