import { readFileSync } from 'node:fs';
import type { EsConnectionConfig, KafkaConnectionConfig } from './config.js';
import { ConfigError } from './config.js';

/**
 * Turns the connection settings every client of the project shares (services, the CLI, setup
 * commands) into what kafkajs and @elastic/elasticsearch take, reading the PEM files they name.
 * One place, so a setting means the same thing everywhere, and an unreadable file is a config
 * error naming the setting rather than a TLS failure later.
 */

function readPem(service: string, setting: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(service, [`${setting}: cannot read ${file}: ${(err as Error).message}`]);
  }
}

/** kafkajs's `ssl` option: false, true (system CAs), or the CA / client certificate files read. */
export function kafkaTlsOption(c: KafkaConnectionConfig, service = 'kafka'): boolean | { ca?: Buffer[]; cert?: Buffer; key?: Buffer } {
  const t = c.tls;
  if (!t || (!t.caFile && !t.certFile && !t.keyFile)) return c.ssl ?? false;
  if ((t.certFile === undefined) !== (t.keyFile === undefined)) {
    throw new ConfigError(service, ['kafka.tls: AUDIT_KAFKA_SSL_CERT_FILE and AUDIT_KAFKA_SSL_KEY_FILE go together (a client certificate needs its key)']);
  }
  return {
    ...(t.caFile ? { ca: [readPem(service, 'AUDIT_KAFKA_SSL_CA_FILE', t.caFile)] } : {}),
    ...(t.certFile ? { cert: readPem(service, 'AUDIT_KAFKA_SSL_CERT_FILE', t.certFile) } : {}),
    ...(t.keyFile ? { key: readPem(service, 'AUDIT_KAFKA_SSL_KEY_FILE', t.keyFile) } : {}),
  };
}

/** The node, auth and TLS options of an @elastic/elasticsearch Client (retries and timeouts are the caller's). */
export function esClientOptions(
  c: EsConnectionConfig,
  service = 'elasticsearch',
): {
  node: string;
  auth?: { apiKey: string } | { username: string; password: string };
  tls?: { ca: Buffer };
} {
  // Credentials in the URL are accepted (curl habit) but moved out of it, so the URL can be logged.
  const u = new URL(c.url);
  const fromUrl = u.username ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : undefined;
  u.username = '';
  u.password = '';
  const auth = c.apiKey ? { apiKey: c.apiKey } : c.username ? { username: c.username, password: c.password ?? '' } : fromUrl;
  return {
    node: u.toString(),
    ...(auth ? { auth } : {}),
    ...(c.caFile ? { tls: { ca: readPem(service, 'AUDIT_ES_CA_FILE', c.caFile) } } : {}),
  };
}
