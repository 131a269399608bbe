/**
 * Planted secrets for canary tests: one value per kind, each placed somewhere an audit event can
 * carry it. A byte scan of masked output must find none of `CANARY_VALUES`.
 */
import { createHash } from 'node:crypto';
import { newId, readSchemaFile, type AuditEvent } from '@jwt-audit/events';
import { RUNTIME_ERRORS } from '@jwt-audit/runtime';

const jwt = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJjYW5hcnktdXNlciIsImV4cCI6MTc5NTE2NjEwNH0.c2lnbmF0dXJlLWNhbmFyeS1ieXRlcw';
const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAcanaryprivatekeymaterial0123456789abcdef\n-----END RSA PRIVATE KEY-----';

export const CANARIES = {
  password: 'Canary-Pa55word!',
  formPassword: 'form-canary-pw-77',
  clientSecret: 'cs_canary_8f7e6d5c',
  apiKeyField: 'apikey-canary-4242',
  jwtInBody: jwt,
  bearerInText: 'Bearer canaryopaquetoken123456',
  awsAccessKey: 'AKIACANARY0123456789',
  gcpKey: 'AIzaSyCanary-0123456789abcdefghijklmnop',
  githubToken: 'ghp_CanaryCanaryCanaryCanaryCanary123456',
  slackToken: 'xoxb-1234567890-canary-slack',
  stripeKey: 'sk_live_CanaryStripeKey0123',
  privateKey: pem,
  card: '4111 1111 1111 1111',
  cardInQuery: '5500005555555559',
  email: 'canary.person@example.org',
  phone: '+1 415-555-0142',
  iban: 'GB82 WEST 1234 5698 7654 32',
  ssn: '219-09-9999',
  urlPassword: 'urlcanarypw',
  cookie: 'session=canary-cookie-value-99',
  authorizationHeader: 'Bearer canary-header-token-0000',
  refreshTokenQuery: 'rt-canary-query-5555',
  cvv: '987',
  multipartPassword: 'multipart-canary-pw',
  nestedToken: 'nested-canary-token-abc',
  azureStorageKey: `AccountKey=${'CanaryAzure0123456789abcdefghij'.repeat(3).slice(0, 86)}==`,
  awsSecretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARYKEY1',
  phoneInText: '(212) 555-0199',
} as const;

/** The strings that must not appear anywhere after masking (parts that are not secret are left out). */
export const CANARY_VALUES: string[] = [
  ...Object.values(CANARIES).filter((v) => v !== CANARIES.card && v !== CANARIES.iban && v !== CANARIES.cvv && v !== CANARIES.privateKey),
  '4111 1111 1111', // all but the last four digits
  'GB82 WEST 1234 5698 7654',
  'MIIEowIBAAKCAQEAcanaryprivatekeymaterial',
  '"cvv":"987"',
];

export function canaryEvent(): AuditEvent {
  const base = readSchemaFile('examples/http.exchange.json') as AuditEvent;
  const boundary = 'XyZcanary';
  const multipart = [
    `--${boundary}`,
    'Content-Disposition: form-data; name="password"',
    '',
    CANARIES.multipartPassword,
    `--${boundary}`,
    'Content-Disposition: form-data; name="note"',
    '',
    `reach me at ${CANARIES.email}`,
    `--${boundary}`,
    'Content-Disposition: form-data; name="file"; filename="id.png"',
    'Content-Type: image/png',
    '',
    'PNGBYTES-canary',
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return {
    ...base,
    id: newId(),
    masking: null,
    attributes: { note: `paid with ${CANARIES.card}`, client_secret: CANARIES.clientSecret },
    rejection: null,
    network: { ...base.network!, userAgent: `curl/8 (${CANARIES.email})` },
    http: {
      request: {
        ...base.http!.request,
        path: `/reset/${CANARIES.jwtInBody}`,
        query: `refresh_token=${CANARIES.refreshTokenQuery}&card=${CANARIES.cardInQuery}&next=https://u:${CANARIES.urlPassword}@example.org/`,
        headers: {
          authorization: CANARIES.authorizationHeader,
          cookie: CANARIES.cookie,
          'x-api-key': CANARIES.apiKeyField,
          'x-debug': `aws=${CANARIES.awsAccessKey}; ${CANARIES.bearerInText}`,
        },
        body: {
          contentType: 'application/json',
          size: 400,
          truncated: false,
          sha256: null,
          content: JSON.stringify({
            user: { email: CANARIES.email, profile: { phone: CANARIES.phone, ssn: CANARIES.ssn } },
            password: CANARIES.password,
            payment: { card_number: CANARIES.card, cvv: CANARIES.cvv, iban: CANARIES.iban },
            credentials: [{ api_key: CANARIES.apiKeyField, nested: { token: CANARIES.nestedToken } }],
            comment: `keys: ${CANARIES.gcpKey} ${CANARIES.githubToken} ${CANARIES.slackToken} ${CANARIES.stripeKey}; call ${CANARIES.phoneInText}`,
            deploy: {
              log: [
                `DefaultEndpointsProtocol=https;AccountName=x;${CANARIES.azureStorageKey};EndpointSuffix=core.windows.net`,
                `aws secret key ${CANARIES.awsSecretKey}`,
              ],
            },
            pem: CANARIES.privateKey,
            id_token: CANARIES.jwtInBody,
          }),
        },
      },
      response: {
        ...base.http!.response!,
        headers: { 'set-cookie': CANARIES.cookie, 'content-type': 'multipart/form-data' },
        body: { contentType: `multipart/form-data; boundary=${boundary}`, size: multipart.length, truncated: false, sha256: null, content: multipart },
      },
    },
  };
}

/** A form-encoded login and a binary upload, to cover the other body types. */
export function canaryFormEvent(): AuditEvent {
  const e = canaryEvent();
  e.id = newId();
  e.http!.request.body = {
    contentType: 'application/x-www-form-urlencoded',
    size: 80,
    truncated: false,
    sha256: null,
    content: `username=bob&password=${encodeURIComponent(CANARIES.formPassword)}&grant_type=password`,
  };
  e.http!.response!.body = { contentType: 'application/octet-stream', size: 16, truncated: false, sha256: null, content: `BINARY ${CANARIES.password}` };
  e.http!.response!.headers = {};
  return e;
}

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * The leak-scan corpus: one planted value per kind of secret the masking must stop (>= 60 kinds).
 * `plant` is the text placed in an event (with the context a detector needs, e.g. the name before
 * an AWS secret key); `secrets` are the parts that must never appear after masking. Values are
 * generated deterministically, distinct per kind, and never contain EXAMPLE (secret scanners skip
 * documentation placeholders).
 */
export interface CanaryKind {
  kind: string;
  plant: string;
  secrets: string[];
}

function gen(alphabet: string, n: number, salt: string): string {
  let h = createHash('sha256').update(salt).digest();
  let out = '';
  while (out.length < n) {
    for (const b of h) if (out.length < n) out += alphabet[b % alphabet.length];
    h = createHash('sha256').update(h).digest();
  }
  return out;
}
const UP = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const AN = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const B64 = `${AN}+/`;
const B64URL = `${AN}_-`;
const HEX = '0123456789abcdef';
const b64url = (s: string) => Buffer.from(s).toString('base64url');

/** The digits with their Luhn check digit appended. */
function withLuhn(digits: string): string {
  for (let c = 0; c < 10; c++) {
    const d = `${digits}${c}`;
    let sum = 0;
    for (let i = 0; i < d.length; i++) {
      let n = Number(d[d.length - 1 - i]);
      if (i % 2 === 1) n = n * 2 > 9 ? n * 2 - 9 : n * 2;
      sum += n;
    }
    if (sum % 10 === 0) return d;
  }
  throw RUNTIME_ERRORS.AUDIT_ERR_INTERNAL.create('unreachable');
}
const mod97 = (digits: string) => [...digits].reduce((r, ch) => (r * 10 + Number(ch)) % 97, 0);
const group4 = (s: string) => s.replace(/(.{4})(?=.)/g, '$1 ');

function corpus(variant: string): CanaryKind[] {
  const g = (alphabet: string, n: number, salt: string) => gen(alphabet, n, `${variant}${salt}`);
  const pemOf = (label: string, salt: string) => {
    const body = g(B64, 64, salt);
    return { plant: `-----BEGIN ${label}-----\n${body}\n${g(B64, 64, `${salt}2`)}\n-----END ${label}-----`, secrets: [body] };
  };
  const k = (kind: string, plant: string, ...secrets: string[]): CanaryKind => ({ kind, plant, secrets: secrets.length ? secrets : [plant] });
  const pem = (kind: string, label: string, salt: string): CanaryKind => ({ kind, ...pemOf(label, salt) });
  const jwsHeader = b64url(JSON.stringify({ alg: 'RS256', kid: 'canary' }));
  const jwsPayload = b64url(JSON.stringify({ sub: 'canary-jws-subject', exp: 1795166104 }));
  const jws = `${jwsHeader}.${jwsPayload}.${g(B64URL, 86, 'jws-sig')}`;
  const jwe = `${b64url(JSON.stringify({ alg: 'RSA-OAEP', enc: 'A256GCM' }))}.${g(B64URL, 342, 'jwe-key')}.${g(B64URL, 16, 'jwe-iv')}.${g(B64URL, 120, 'jwe-ct')}.${g(B64URL, 22, 'jwe-tag')}`;
  const unsigned = `${b64url('{"alg":"none"}')}.${b64url(JSON.stringify({ sub: 'canary-none-subject', admin: true }))}.`;
  const awsSecret = g(B64, 40, 'aws-secret');
  const saKey = pemOf('PRIVATE KEY', 'gcp-sa');
  const saKeyId = g(HEX, 40, 'gcp-sa-id');
  const ghp = `ghp_${g(AN, 36, 'ghp')}`;
  const D = '0123456789';
  const visa = withLuhn(`4539${g(D, 11, 'visa')}`);
  const amex = withLuhn(`37${g(D, 12, 'amex')}`);
  const bban = `50010517${g(D, 10, 'iban')}`;
  const iban = `DE${String(98 - mod97(`${bban}131400`)).padStart(2, '0')}${bban}`;
  const ssn = `${g('12345', 1, 'ssn1')}${g(D, 2, 'ssn2')}-${g('123456789', 2, 'ssn3')}-${g('123456789', 4, 'ssn4')}`;
  const pwd = (salt: string) => `Cn${g(AN, 14, salt)}!`;
  return [
    k('aws-access-key', `AKIA${g(UP, 16, 'akia')}`),
    k('aws-sts-key', `ASIA${g(UP, 16, 'asia')}`),
    k('aws-secret-key', `aws_secret_access_key=${awsSecret}`, awsSecret),
    k('gcp-api-key', `AIza${g(B64URL, 35, 'aiza')}`),
    k(
      'gcp-service-account',
      JSON.stringify({ type: 'service_account', project_id: 'canary', private_key_id: saKeyId, private_key: saKey.plant }),
      saKeyId,
      ...saKey.secrets,
    ),
    k(
      'azure-storage-key',
      `DefaultEndpointsProtocol=https;AccountName=canary;AccountKey=${g(B64, 44, 'azure-short')}==;EndpointSuffix=core.windows.net`,
      g(B64, 44, 'azure-short'),
    ),
    k('azure-storage-key-86', `AccountKey=${g(B64, 86, 'azure-86')}==`, g(B64, 86, 'azure-86')),
    k(
      'azure-sas',
      `https://canary.blob.core.windows.net/c/b?sv=2022-11-02&ss=b&sig=${encodeURIComponent(g(B64, 43, 'sas'))}%3D`,
      g(B64, 43, 'sas'),
      encodeURIComponent(g(B64, 43, 'sas')),
    ),
    k('azure-service-bus', `Endpoint=sb://canary.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=${g(B64, 44, 'sb')}`, g(B64, 44, 'sb')),
    k('npm-token', `npm_${g(AN, 36, 'npm')}`),
    k('pypi-token', `pypi-AgEIcHlwaS5vcmc${g(B64URL, 70, 'pypi')}`),
    k('rubygems-token', `rubygems_${g(HEX, 48, 'gems')}`),
    k('github-classic', ghp),
    k('github-oauth', `gho_${g(AN, 36, 'gho')}`),
    k('github-app', `ghs_${g(AN, 36, 'ghs')}`),
    k('github-refresh', `ghr_${g(AN, 36, 'ghr')}`),
    k('github-fine-grained', `github_pat_${g(AN, 22, 'pat1')}_${g(AN, 59, 'pat2')}`),
    k('gitlab-pat', `glpat-${g(B64URL, 20, 'glpat')}`),
    k('gitlab-deploy', `gldt-${g(B64URL, 20, 'gldt')}`),
    k('gitlab-runner', `glrt-${g(B64URL, 20, 'glrt')}`),
    k('slack-bot', `xoxb-${g('0123456789', 12, 'sb1')}-${g('0123456789', 13, 'sb2')}-${g(AN, 24, 'sb3')}`),
    k('slack-user', `xoxp-${g('0123456789', 12, 'sp1')}-${g('0123456789', 12, 'sp2')}-${g('0123456789', 13, 'sp3')}-${g(HEX, 32, 'sp4')}`),
    k('slack-webhook', `https://hooks.slack.com/services/T${g(UP, 8, 'wh1')}/B${g(UP, 8, 'wh2')}/${g(AN, 24, 'wh3')}`),
    k('stripe-secret', `sk_live_${g(AN, 24, 'sk')}`),
    k('stripe-test', `sk_test_${g(AN, 24, 'skt')}`),
    k('stripe-restricted', `rk_live_${g(AN, 24, 'rk')}`),
    k('stripe-webhook', `whsec_${g(AN, 32, 'whsec')}`),
    pem('pem-rsa', 'RSA PRIVATE KEY', 'rsa'),
    pem('pem-ec', 'EC PRIVATE KEY', 'ec'),
    pem('pem-dsa', 'DSA PRIVATE KEY', 'dsa'),
    pem('pem-pkcs8', 'PRIVATE KEY', 'pkcs8'),
    pem('pem-encrypted', 'ENCRYPTED PRIVATE KEY', 'enc'),
    pem('openssh-private-key', 'OPENSSH PRIVATE KEY', 'openssh'),
    pem('pgp-private-key', 'PGP PRIVATE KEY BLOCK', 'pgp'),
    k('postgres-dsn', `postgres://app:${pwd('pg')}@db.internal:5432/orders`, pwd('pg')),
    k('mysql-dsn', `mysql://root:${pwd('my')}@10.0.0.5/app`, pwd('my')),
    k('mongodb-dsn', `mongodb+srv://svc:${pwd('mongo')}@cluster0.canary.mongodb.net/db`, pwd('mongo')),
    k('redis-dsn', `redis://default:${pwd('redis')}@cache:6379/0`, pwd('redis')),
    k('url-userinfo', `https://deploy:${pwd('url')}@git.example.org/repo.git`, pwd('url')),
    k('amqp-dsn', `amqps://guest:${pwd('amqp')}@mq.example.org/vhost`, pwd('amqp')),
    k('jws', jws, jwsPayload, jws.split('.')[2]!),
    k('jwe', jwe, jwe.split('.')[1]!, jwe.split('.')[3]!),
    k('jwt-unsigned', unsigned, unsigned.split('.')[1]!),
    k('bearer-opaque', `Bearer ${g(B64URL, 40, 'bearer')}`, g(B64URL, 40, 'bearer')),
    k(
      'basic-credentials',
      `Basic ${Buffer.from(`canary-user:${pwd('basic')}`).toString('base64')}`,
      Buffer.from(`canary-user:${pwd('basic')}`).toString('base64'),
      pwd('basic'),
    ),
    k('password-pair', `password=${pwd('pair')}`, pwd('pair')),
    k('camel-password', `dbPassword: ${pwd('camel')}`, pwd('camel')),
    k('client-secret', `client_secret=${g(B64URL, 32, 'cs')}`, g(B64URL, 32, 'cs')),
    k('api-key-pair', `"x-api-key": "${g(AN, 32, 'apikey')}"`, g(AN, 32, 'apikey')),
    k('token-pair', `refresh_token=${g(B64URL, 43, 'rt')}`, g(B64URL, 43, 'rt')),
    k('amz-signature', `X-Amz-Signature=${g(HEX, 64, 'amzsig')}`, g(HEX, 64, 'amzsig')),
    k('otp-pair', `otp=${g('0123456789', 9, 'otp')}x`, `${g('0123456789', 9, 'otp')}x`),
    k('session-cookie', `session=${g(B64URL, 32, 'sess')}`, g(B64URL, 32, 'sess')),
    k('passphrase-pair', `passphrase='${pwd('phrase')} horse'`, `${pwd('phrase')} horse`),
    k('email', `canary.${g('abcdefghijklmnopqrstuvwxyz', 10, 'mail')}@example.org`),
    k('phone', `+1 415-555-${g('0123456789', 4, 'phone')}`),
    k('credit-card-visa', group4(visa), group4(visa).slice(0, 14), visa.slice(0, 12)),
    k('credit-card-amex', amex, amex.slice(0, 11)),
    k('iban', group4(iban), group4(iban).slice(0, 19), iban.slice(0, 18)),
    k('us-ssn', ssn),
    k('openai-key', `sk-proj-${g(B64URL, 48, 'openai')}`),
    k('anthropic-key', `sk-ant-api03-${g(B64URL, 93, 'anthropic')}AA`),
    k('sendgrid-key', `SG.${g(B64URL, 22, 'sg1')}.${g(B64URL, 43, 'sg2')}`),
    k('shopify-token', `shpat_${g(HEX, 32, 'shop')}`),
    k('huggingface-token', `hf_${g(AN, 34, 'hf')}`),
    k('databricks-token', `dapi${g(HEX, 32, 'dapi')}`),
    k('vault-token', `hvs.${g(B64URL, 90, 'vault')}`),
    k('docker-hub-token', `dckr_pat_${g(B64URL, 27, 'docker')}`),
    k('linear-key', `lin_api_${g(AN, 40, 'linear')}`),
    k('grafana-token', `glsa_${g(AN, 32, 'grafana')}_${g(HEX, 8, 'grafana2')}`),
    k('base64-github-token', Buffer.from(`token ${ghp}`).toString('base64')),
    k('percent-encoded-password', encodeURIComponent(`{"password":"${pwd('pct')}"}`), pwd('pct')),
  ];
}

export const CANARY_CORPUS: CanaryKind[] = corpus('');

/** The same kinds with other values: one variant per placement, so a value found names its placement. */
export const canaryCorpus = (variant: string): CanaryKind[] => corpus(variant);
