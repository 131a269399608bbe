import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread on a module of this repository. A build runs compiled `.js` files and
 * starts them directly. From source (`npm start`, tests) the module is `.ts`, and Node 20 does not
 * apply the parent's `--import tsx` loader to worker threads, so the worker registers tsx itself
 * before importing the module. The parent's `--conditions` are inherited (execArgv).
 */
export function startWorker(file: URL, workerData: unknown, opts: { typescript?: boolean } = {}): Worker {
  // `typescript`: the worker will import .ts modules of its own (a compiled worker running a
  // module from source)
  if (!file.pathname.endsWith('.ts') && !opts.typescript) return new Worker(file, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(file.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

/** A module file beside `base` (an `import.meta.url`), with the extension `base` itself has (.ts from source, .js when built). */
export function siblingModule(base: string, name: string): URL {
  return new URL(`./${name}.${base.endsWith('.ts') ? 'ts' : 'js'}`, base);
}
