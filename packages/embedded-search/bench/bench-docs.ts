/**
 * The benchmarks' ECS documents (bulk-and-query.ts, index-memory.ts): document i of n, its
 * timestamp spread over three days from 2026-11-20, 5,000 users, 1,000 routes, one failure in five,
 * and the values that never repeat (event id, jti, fingerprint, source ip) as the edge makes them.
 */
const DAY = 86_400_000;
const T0 = Date.parse('2026-11-20T00:00:00Z');
const actions = ['token-validated', 'token-rejected', 'token-issued', 'token-refreshed', 'http-exchange'];

export function benchDoc(i: number, n: number) {
  const user = `user-${i % 5000}`;
  return {
    '@timestamp': new Date(T0 + Math.floor((i / n) * 3 * DAY)).toISOString(),
    event: { kind: 'event', category: ['authentication'], action: actions[i % 5], outcome: i % 5 === 1 ? 'failure' : 'success', id: `ev-${i}` },
    user: { id: user, name: user, roles: ['customer'] },
    source: { ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
    http: { request: { method: 'GET' }, response: { status_code: i % 5 === 1 ? 401 : 200 } },
    url: { path: `/api/orders/${i % 1000}` },
    user_agent: { original: 'Mozilla/5.0 (X11; Linux x86_64)' },
    service: { name: 'orders-api' },
    jwt: { jti: `jti-${i}`, iss: 'https://id.example/', kid: 'k1', alg: 'RS256', fingerprint: (i * 2654435761).toString(16).padStart(64, '0') },
  };
}
