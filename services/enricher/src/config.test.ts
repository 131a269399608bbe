import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '@jwt-audit/runtime';
import { enricherConfigSchema, enricherDefaults, enricherEnv } from './index.js';

const load = (environment: Record<string, string>) =>
  loadConfig({ service: 'enricher', schema: enricherConfigSchema, defaults: enricherDefaults, env: enricherEnv, environment, argv: [] });

test('config: geo databases, routes and lifetime limits from the environment; every problem at once', () => {
  const c = load({
    AUDIT_GEOIP_CITY_DB: '/data/GeoLite2-City.mmdb',
    AUDIT_ENRICHER_ROUTES: '[{"method":"DELETE","route":"/orders/:id","scopes":["orders:admin"]}]',
    AUDIT_ENRICHER_MAX_ACCESS_LIFETIME_SEC: '900',
  });
  assert.equal(c.geoip.cityDb, '/data/GeoLite2-City.mmdb');
  assert.deepEqual(c.policy.routes, [{ method: 'DELETE', route: '/orders/:id', scopes: ['orders:admin'] }]);
  assert.equal(c.policy.maxLifetimeSec.access, 900);
  assert.equal(c.policy.maxLifetimeSec.refresh, enricherDefaults.policy.maxLifetimeSec.refresh);
  assert.throws(
    () =>
      load({ AUDIT_ENRICHER_ROUTES: '[{"route":"no-slash","scopes":[]}]', AUDIT_ENRICHER_MAX_ACCESS_LIFETIME_SEC: '-5', AUDIT_ENRICHER_CONCURRENCY: 'lots' }),
    (err: unknown) => err instanceof ConfigError && err.problems.length === 3,
  );
});
