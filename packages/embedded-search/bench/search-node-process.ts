/**
 * The search node in a process of its own for bench/bulk-and-query.ts, so the client's work
 * (building and serialising bulk bodies) does not share the node's CPU or count in its RSS.
 * Protocol over the IPC channel: it sends { url } once listening; it answers { type: 'rss' } with
 * { rss, peakRss, heapUsed } in bytes and cpuMicros (user + system so far); { type: 'close' } closes the node and exits.
 */
import { startSearchNode } from '../src/index.js';

const dir = process.argv[2];
if (!dir || !process.send) throw new Error('usage: forked by bulk-and-query.ts with a data dir');
const node = await startSearchNode({ dir, port: 0 });
process.on('message', async (m: { type: string }) => {
  if (m.type === 'rss') {
    // after a full collection: what the node holds, not the garbage a lazy collector left
    (globalThis as { gc?: () => void }).gc?.();
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    process.send!({ type: 'rss', rss: mem.rss, peakRss: process.resourceUsage().maxRSS * 1024, heapUsed: mem.heapUsed, cpuMicros: cpu.user + cpu.system });
  } else if (m.type === 'close') {
    await node.close();
    process.send!({ type: 'closed' }, () => process.exit(0));
  }
});
process.send({ type: 'url', url: node.url });
