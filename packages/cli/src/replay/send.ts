/**
 * Sends one planned request to the target with node's own HTTP client (method, path and headers
 * exactly as given: fetch would add and refuse headers of its own) and reads the whole answer:
 * its size and SHA-256, and its text up to a cap for the comparison.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { ReplayedResponse } from './compare.js';
import { CLI_ERRORS } from '../errors.js';

/** Text kept of a response for the body comparison; the size and hash cover all of it. */
const MAX_TEXT_BYTES = 16 * 1024 * 1024; // 16 MiB

export interface Outgoing {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string | null;
}

export function send(req: Outgoing, timeoutMs: number): Promise<ReplayedResponse> {
  return new Promise((resolve, reject) => {
    const lib = req.url.protocol === 'https:' ? https : http;
    const body = req.body === null ? null : Buffer.from(req.body, 'utf8');
    const headers: Record<string, string> = { ...req.headers };
    if (body !== null) headers['content-length'] = String(body.length);
    const r = lib.request(req.url, { method: req.method, headers, agent: false, timeout: timeoutMs }, (res) => {
      const hash = createHash('sha256');
      const kept: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        hash.update(c);
        if (size < MAX_TEXT_BYTES) kept.push(c.subarray(0, MAX_TEXT_BYTES - size));
        size += c.length;
      });
      res.on('end', () => {
        const ct = res.headers['content-type'];
        resolve({
          status: res.statusCode ?? 0,
          size,
          sha256: hash.digest('hex'),
          text: Buffer.concat(kept).toString('utf8'),
          contentType: typeof ct === 'string' ? ct : null,
        });
      });
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(CLI_ERRORS.AUDIT_ERR_CLI_UNAVAILABLE.create(`no answer within ${timeoutMs} ms`)));
    r.on('error', reject);
    r.end(body ?? undefined);
  });
}
