/**
 * SASL on the broker's listener, as Kafka's SaslServerAuthenticator does it (KIP-43, KIP-152):
 *   SaslHandshake (key 17) v0-1: mechanism STRING -> error_code INT16, mechanisms [STRING]
 *   SaslAuthenticate (key 36) v0-2 (flexible from v2): auth_bytes BYTES ->
 *     error_code INT16, error_message NULLABLE_STRING, auth_bytes BYTES, v1+ session_lifetime_ms INT64
 * Until a connection has authenticated, only ApiVersions, SaslHandshake and SaslAuthenticate are
 * served; anything else closes it (Kafka: IllegalSaslStateException). A failed authentication is
 * answered with SASL_AUTHENTICATION_FAILED and then the connection is closed. Tokens travel in
 * SaslAuthenticate only (the pre-KIP-152 raw framing after a v0 handshake is not accepted).
 *
 * Mechanisms: PLAIN (RFC 4616) and SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677), the ones
 * kafkajs, librdkafka and the Java client share. SCRAM credentials are derived once at start
 * (4,096 iterations, Kafka's minimum, a random salt per user), so the password itself is not kept.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCode } from '../errors.js';
import type { ApiDefinition } from './context.js';
import { BROKER_ERRORS } from '../audit-errors.js';

export const SASL_ERRORS = { ILLEGAL_SASL_STATE: 34, UNSUPPORTED_SASL_MECHANISM: 33, SASL_AUTHENTICATION_FAILED: 58 } as const;

export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
export const SASL_MECHANISMS: readonly SaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

export interface SaslOptions {
  /** username -> password. */
  users: Record<string, string>;
  /** Mechanisms offered; default all three. */
  mechanisms?: SaslMechanism[];
}

interface ScramCredential {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** What the listener knows of its users: PLAIN compares digests, SCRAM its derived keys. */
export class SaslUsers {
  readonly mechanisms: SaslMechanism[];
  private readonly plain = new Map<string, Buffer>();
  private readonly scram = new Map<string, ScramCredential>();

  constructor(opts: SaslOptions) {
    this.mechanisms = opts.mechanisms ?? [...SASL_MECHANISMS];
    for (const m of this.mechanisms) if (!SASL_MECHANISMS.includes(m)) throw BROKER_ERRORS.AUDIT_ERR_BROKER_CONFIG.create(`unknown SASL mechanism ${m}`);
    for (const [user, password] of Object.entries(opts.users)) {
      this.plain.set(user, sha256(Buffer.from(password, 'utf8')));
      for (const hash of ['sha256', 'sha512'] as const) {
        const salt = randomBytes(16);
        const salted = pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, 4096, hash === 'sha256' ? 32 : 64, hash);
        this.scram.set(`${hash}:${user}`, {
          salt,
          iterations: 4096,
          storedKey: createHash(hash)
            .update(hmac(hash, salted, 'Client Key'))
            .digest(),
          serverKey: hmac(hash, salted, 'Server Key'),
        });
      }
    }
  }

  checkPlain(user: string, password: string): boolean {
    const want = this.plain.get(user);
    // The digest of a wrong user's attempt is still compared, so timing does not tell users apart.
    const got = sha256(Buffer.from(password, 'utf8'));
    return timingSafeEqual(want ?? sha256(randomBytes(8)), got) && want !== undefined;
  }

  scramCredential(hash: 'sha256' | 'sha512', user: string): ScramCredential | undefined {
    return this.scram.get(`${hash}:${user}`);
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
const hmac = (hash: string, key: Buffer, data: string) => createHmac(hash, key).update(data).digest();

/** Per connection: where the SASL exchange stands. */
export interface SaslSession {
  state: 'handshake' | 'authenticate' | 'scram-final' | 'done';
  mechanism?: SaslMechanism;
  principal?: string;
  /** SCRAM: what the final message is checked against. */
  scram?: {
    hash: 'sha256' | 'sha512';
    user: string;
    gs2Header: string;
    nonce: string;
    clientFirstBare: string;
    serverFirst: string;
    credential: ScramCredential;
  };
  /** Set by a failed exchange: the connection closes once the answer is written. */
  closeAfterResponse?: boolean;
}

export function newSaslSession(): SaslSession {
  return { state: 'handshake' };
}

/** Failure inside an exchange: answered with SASL_AUTHENTICATION_FAILED, then the connection closes. */
class AuthFailed extends Error {}

/** APIs a connection may use before it has authenticated. */
export const PRE_AUTH_APIS = new Set([17, 18, 36]);

export function saslHandshakeApi(users: SaslUsers): ApiDefinition {
  return {
    key: 17,
    name: 'SaslHandshake',
    minVersion: 0,
    maxVersion: 1,
    handle: (r, w, meta) => {
      const session = meta.sasl!;
      const mechanism = r.string().toUpperCase() as SaslMechanism;
      if (session.state !== 'handshake') {
        session.closeAfterResponse = true;
        w.int16(SASL_ERRORS.ILLEGAL_SASL_STATE);
      } else if (!users.mechanisms.includes(mechanism)) {
        session.closeAfterResponse = true;
        w.int16(SASL_ERRORS.UNSUPPORTED_SASL_MECHANISM);
      } else {
        session.state = 'authenticate';
        session.mechanism = mechanism;
        w.int16(ErrorCode.NONE);
      }
      w.int32(users.mechanisms.length);
      for (const m of users.mechanisms) w.string(m);
    },
  };
}

export function saslAuthenticateApi(users: SaslUsers): ApiDefinition {
  return {
    key: 36,
    name: 'SaslAuthenticate',
    minVersion: 0,
    maxVersion: 2,
    flexibleVersion: 2,
    handle: (r, w, meta, ctx) => {
      const session = meta.sasl!;
      const f = meta.flexible;
      const token = r.byts(f);
      r.tags(f);
      let answer: Buffer;
      try {
        answer = step(users, session, token);
      } catch (err) {
        if (!(err instanceof AuthFailed)) throw err;
        session.closeAfterResponse = true;
        session.state = 'done';
        ctx.logger.warn({ mechanism: session.mechanism, client: meta.clientHost, reason: err.message }, 'SASL authentication failed: connection closed');
        w.int16(SASL_ERRORS.SASL_AUTHENTICATION_FAILED).str(
          f,
          `Authentication failed during authentication due to invalid credentials with SASL mechanism ${session.mechanism ?? 'none'}`,
        );
        w.byts(f, Buffer.alloc(0));
        if (meta.apiVersion >= 1) w.int64(0);
        w.tags(f);
        return;
      }
      if (session.state === 'done')
        ctx.logger.debug({ mechanism: session.mechanism, principal: session.principal, client: meta.clientHost }, 'SASL authenticated');
      w.int16(ErrorCode.NONE).str(f, null).byts(f, answer);
      if (meta.apiVersion >= 1) w.int64(0);
      w.tags(f);
    },
  };
}

function step(users: SaslUsers, s: SaslSession, token: Buffer): Buffer {
  if (s.state === 'handshake' || s.state === 'done') throw new AuthFailed('SaslAuthenticate before SaslHandshake');
  if (s.mechanism === 'PLAIN') {
    // authzid NUL authcid NUL passwd; an authzid other than the user is not allowed (Kafka: same rule)
    const parts = token.toString('utf8').split('\0');
    if (parts.length !== 3) throw new AuthFailed('malformed PLAIN message');
    const [authz, user, password] = parts as [string, string, string];
    if (authz !== '' && authz !== user) throw new AuthFailed('authorization id differs from the user');
    if (!user || !users.checkPlain(user, password)) throw new AuthFailed('invalid username or password');
    s.state = 'done';
    s.principal = user;
    return Buffer.alloc(0);
  }
  const hash = s.mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
  if (s.state === 'authenticate') {
    // client-first: gs2-header ("n,," or "n,a=user,") then "n=<user>,r=<nonce>[,extensions]"
    const text = token.toString('utf8');
    const m = /^(n,(?:a=[^,]*)?,)(n=([^,]*),r=([\x21-\x2b\x2d-\x7e]+)(?:,.*)?)$/.exec(text);
    if (!m) throw new AuthFailed('malformed SCRAM client-first message (or channel binding, which is not supported)');
    const user = scramName(m[3]!);
    const credential = users.scramCredential(hash, user);
    // An unknown user still gets a server-first message (with a random salt), as Kafka does, so
    // the answer does not tell which users exist; the proof then fails.
    const cred = credential ?? { salt: randomBytes(16), iterations: 4096, storedKey: randomBytes(hash === 'sha256' ? 32 : 64), serverKey: randomBytes(1) };
    const nonce = m[4]! + randomBytes(18).toString('base64');
    const serverFirst = `r=${nonce},s=${cred.salt.toString('base64')},i=${cred.iterations}`;
    s.scram = { hash, user, gs2Header: m[1]!, nonce, clientFirstBare: m[2]!, serverFirst, credential: cred };
    s.state = 'scram-final';
    return Buffer.from(serverFirst, 'utf8');
  }
  const sc = s.scram!;
  const text = token.toString('utf8');
  const m = /^(c=([^,]*),r=([^,]*)(?:,[^p][^,]*)*),p=([A-Za-z0-9+/=]+)$/.exec(text);
  if (!m) throw new AuthFailed('malformed SCRAM client-final message');
  // Kafka's ScramSaslServer accepts a final nonce that ends with the server's (librdkafka up to at
  // least 2.0 sends the client nonce again in front of it); so does this broker.
  if (!m[3]!.endsWith(sc.nonce)) throw new AuthFailed('SCRAM nonce mismatch');
  if (m[2] !== Buffer.from(sc.gs2Header, 'utf8').toString('base64')) throw new AuthFailed('SCRAM channel binding differs from the first message');
  const authMessage = `${sc.clientFirstBare},${sc.serverFirst},${m[1]}`;
  const proof = Buffer.from(m[4]!, 'base64');
  const signature = hmac(sc.hash, sc.credential.storedKey, authMessage);
  if (proof.length !== signature.length) throw new AuthFailed('invalid username or password');
  const clientKey = Buffer.alloc(proof.length);
  for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ signature[i]!;
  const ok = timingSafeEqual(createHash(sc.hash).update(clientKey).digest(), sc.credential.storedKey);
  if (!ok || users.scramCredential(sc.hash, sc.user) === undefined) throw new AuthFailed('invalid username or password');
  s.state = 'done';
  s.principal = sc.user;
  return Buffer.from(`v=${hmac(sc.hash, sc.credential.serverKey, authMessage).toString('base64')}`, 'utf8');
}

/** saslname: "=2C" is ',' and "=3D" is '='; any other '=' is malformed (RFC 5802 §5.1). */
function scramName(s: string): string {
  if (/=(?!2C|3D)/.test(s)) throw new AuthFailed('malformed SCRAM user name');
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}
