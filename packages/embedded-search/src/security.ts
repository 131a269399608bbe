/**
 * Authentication as Elasticsearch's security layer answers it on the REST interface (basic
 * authentication against the native realm, and API keys), for a node started with `security`:
 *   - no credentials: 401 security_exception "missing authentication credentials for REST request [<path>]"
 *     with the WWW-Authenticate challenges Elasticsearch sends (Basic, Bearer, ApiKey);
 *   - a wrong user or password: 401 "unable to authenticate user [<user>] for REST request [<path>]";
 *   - an unknown or wrong API key: 401 "unable to authenticate with provided credentials and anonymous
 *     access is not allowed for this request" (Elasticsearch adds the failed credential's kind);
 *   - `GET /_security/_authenticate` answers who the caller is.
 * There are no roles: an authenticated caller may do everything (a superuser), and the node keeps
 * no secret in clear (SHA-256 digests, compared in constant time).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { EsError } from './errors.js';
import { SEARCH_NODE_ERRORS } from './audit-errors.js';

export interface SecurityOptions {
  /** Native realm users: name -> password. */
  users?: Record<string, string>;
  /** API keys: id -> key (clients send `ApiKey base64(id:key)`). */
  apiKeys?: Record<string, string>;
}

export interface Principal {
  username: string;
  kind: 'basic' | 'api_key';
  apiKeyId?: string;
}

const CHALLENGES = ['Basic realm="security" charset="UTF-8"', 'Bearer realm="security"', 'ApiKey'];
const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export class Security {
  private readonly users = new Map<string, Buffer>();
  private readonly apiKeys = new Map<string, Buffer>();
  /** Compared against when the user or key id is unknown, so timing does not tell them apart. */
  private readonly decoy = digest(String(Math.random()));

  constructor(opts: SecurityOptions) {
    for (const [u, p] of Object.entries(opts.users ?? {})) this.users.set(u, digest(p));
    for (const [id, k] of Object.entries(opts.apiKeys ?? {})) this.apiKeys.set(id, digest(k));
    if (this.users.size === 0 && this.apiKeys.size === 0)
      throw SEARCH_NODE_ERRORS.AUDIT_ERR_SEARCH_CONFIG.create('security needs at least one user or API key');
  }

  /** Who sent the request, or the EsError (401) Elasticsearch would answer; `headers` of the error carry the challenges. */
  authenticate(headers: IncomingHttpHeaders, path: string): Principal {
    const auth = headers.authorization;
    if (typeof auth !== 'string' || auth.trim() === '') throw this.fail(`missing authentication credentials for REST request [${path}]`);
    const space = auth.indexOf(' ');
    const scheme = (space < 0 ? auth : auth.slice(0, space)).toLowerCase();
    const value = space < 0 ? '' : auth.slice(space + 1).trim();
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon < 0 ? decoded : decoded.slice(0, colon);
      const password = colon < 0 ? '' : decoded.slice(colon + 1);
      if (colon > 0 && this.check(this.users, user, password)) return { username: user, kind: 'basic' };
      throw this.fail(`unable to authenticate user [${user}] for REST request [${path}]`);
    }
    if (scheme === 'apikey') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const id = colon < 0 ? '' : decoded.slice(0, colon);
      if (colon > 0 && this.check(this.apiKeys, id, decoded.slice(colon + 1))) return { username: `api-key:${id}`, kind: 'api_key', apiKeyId: id };
      throw this.fail('unable to authenticate with provided credentials and anonymous access is not allowed for this request', {
        additional_unsuccessful_credentials: 'API key: invalid ApiKey value',
      });
    }
    throw this.fail(`missing authentication credentials for REST request [${path}]`);
  }

  private check(table: Map<string, Buffer>, name: string, secret: string): boolean {
    const want = table.get(name);
    return timingSafeEqual(want ?? this.decoy, digest(secret)) && want !== undefined;
  }

  private fail(reason: string, extra: Record<string, unknown> = {}): EsError {
    return new EsError(401, 'security_exception', reason, { ...extra, header: { 'WWW-Authenticate': CHALLENGES } });
  }
}

export const WWW_AUTHENTICATE = CHALLENGES;

/** `GET /_security/_authenticate`, in Elasticsearch's shape. */
export function authenticateResponse(p: Principal): Record<string, unknown> {
  return {
    username: p.username,
    roles: ['superuser'],
    full_name: null,
    email: null,
    metadata: {},
    enabled: true,
    authentication_realm: p.kind === 'api_key' ? { name: '_es_api_key', type: '_es_api_key' } : { name: 'default_native', type: 'native' },
    lookup_realm: p.kind === 'api_key' ? { name: '_es_api_key', type: '_es_api_key' } : { name: 'default_native', type: 'native' },
    authentication_type: p.kind === 'api_key' ? 'api_key' : 'realm',
    ...(p.apiKeyId ? { api_key: { id: p.apiKeyId, name: p.apiKeyId } } : {}),
  };
}
