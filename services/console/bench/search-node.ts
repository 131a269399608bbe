/**
 * The embedded search node in a process of its own for page-load.ts, as `npm start` runs it (the
 * node is its own process there too): the bench's client work does not share its CPU. Protocol
 * over IPC: sends { type: 'url', url } once listening; { type: 'close' } closes it and exits.
 */
import { startSearchNode } from '@jwt-audit/embedded-search';

const dir = process.argv[2];
if (!dir || !process.send) throw new Error('usage: forked by page-load.ts with a data dir');
const node = await startSearchNode({ dir, port: 0 });
process.on('message', async (m: { type: string }) => {
  if (m.type !== 'close') return;
  await node.close();
  process.send!({ type: 'closed' }, () => process.exit(0));
});
process.send({ type: 'url', url: node.url });
