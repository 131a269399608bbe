/** The upstream service both proxies forward to, in its own process: a small JSON answer. */
import http from 'node:http';
import { listen } from '../src/testdata/harness.js';

const body = JSON.stringify({ orders: [{ id: 1041, sku: 'A-1001', quantity: 1 }] });
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body));
});
process.stdout.write(JSON.stringify({ url: await listen(server) }) + '\n');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
