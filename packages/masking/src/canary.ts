/**
 * Planted secrets for canary tests: one value per kind, each placed somewhere an audit event can
 * carry it. A byte scan of masked output must find none of `CANARY_VALUES`.
 */
import { createHash } from 'node:crypto';
import { newId, readSchemaFile, type AuditEvent } from '@jwt-audit/events';

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
    `--${boundary}`, 'Content-Disposition: form-data; name="password"', '', CANARIES.multipartPassword,
    `--${boundary}`, 'Content-Disposition: form-data; name="note"', '', `reach me at ${CANARIES.email}`,
    `--${boundary}`, 'Content-Disposition: form-data; name="file"; filename="id.png"', 'Content-Type: image/png', '', 'PNGBYTES-canary',
    `--${boundary}--`, '',
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
            deploy: { log: [`DefaultEndpointsProtocol=https;AccountName=x;${CANARIES.azureStorageKey};EndpointSuffix=core.windows.net`, `aws secret key ${CANARIES.awsSecretKey}`] },
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
const pemOf = (label: string, salt: string) => {
  const body = gen(B64, 64, salt);
  return { plant: `-----BEGIN ${label}-----\n${body}\n${gen(B64, 64, `${salt}2`)}\n-----END ${label}-----`, secrets: [body] };
};

function corpus(): CanaryKind[] {
  const k = (kind: string, plant: string, ...secrets: string[]): CanaryKind => ({ kind, plant, secrets: secrets.length ? secrets : [plant] });
  const pem = (kind: string, label: string, salt: string): CanaryKind => ({ kind, ...pemOf(label, salt) });
  const jwsHeader = b64url(JSON.stringify({ alg: 'RS256', kid: 'canary' }));
  const jwsPayload = b64url(JSON.stringify({ sub: 'canary-jws-subject', exp: 1795166104 }));
  const jws = `${jwsHeader}.${jwsPayload}.${gen(B64URL, 86, 'jws-sig')}`;
  const jwe = `${b64url(JSON.stringify({ alg: 'RSA-OAEP', enc: 'A256GCM' }))}.${gen(B64URL, 342, 'jwe-key')}.${gen(B64URL, 16, 'jwe-iv')}.${gen(B64URL, 120, 'jwe-ct')}.${gen(B64URL, 22, 'jwe-tag')}`;
  const unsigned = `${b64url('{"alg":"none"}')}.${b64url(JSON.stringify({ sub: 'canary-none-subject', admin: true }))}.`;
  const awsSecret = gen(B64, 40, 'aws-secret');
  const saKey = pemOf('PRIVATE KEY', 'gcp-sa');
  const saKeyId = gen(HEX, 40, 'gcp-sa-id');
  const ghp = `ghp_${gen(AN, 36, 'ghp')}`;
  const pwd = (salt: string) => `Cn${gen(AN, 14, salt)}!`;
  return [
    k('aws-access-key', `AKIA${gen(UP, 16, 'akia')}`),
    k('aws-sts-key', `ASIA${gen(UP, 16, 'asia')}`),
    k('aws-secret-key', `aws_secret_access_key=${awsSecret}`, awsSecret),
    k('gcp-api-key', `AIza${gen(B64URL, 35, 'aiza')}`),
    k('gcp-service-account', JSON.stringify({ type: 'service_account', project_id: 'canary', private_key_id: saKeyId, private_key: saKey.plant }), saKeyId, ...saKey.secrets),
    k('azure-storage-key', `DefaultEndpointsProtocol=https;AccountName=canary;AccountKey=${gen(B64, 44, 'azure-short')}==;EndpointSuffix=core.windows.net`, gen(B64, 44, 'azure-short')),
    k('azure-storage-key-86', `AccountKey=${gen(B64, 86, 'azure-86')}==`, gen(B64, 86, 'azure-86')),
    k('azure-sas', `https://canary.blob.core.windows.net/c/b?sv=2022-11-02&ss=b&sig=${encodeURIComponent(gen(B64, 43, 'sas'))}%3D`, gen(B64, 43, 'sas'), encodeURIComponent(gen(B64, 43, 'sas'))),
    k('azure-service-bus', `Endpoint=sb://canary.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=${gen(B64, 44, 'sb')}`, gen(B64, 44, 'sb')),
    k('npm-token', `npm_${gen(AN, 36, 'npm')}`),
    k('pypi-token', `pypi-AgEIcHlwaS5vcmc${gen(B64URL, 70, 'pypi')}`),
    k('rubygems-token', `rubygems_${gen(HEX, 48, 'gems')}`),
    k('github-classic', ghp),
    k('github-oauth', `gho_${gen(AN, 36, 'gho')}`),
    k('github-app', `ghs_${gen(AN, 36, 'ghs')}`),
    k('github-refresh', `ghr_${gen(AN, 36, 'ghr')}`),
    k('github-fine-grained', `github_pat_${gen(AN, 22, 'pat1')}_${gen(AN, 59, 'pat2')}`),
    k('gitlab-pat', `glpat-${gen(B64URL, 20, 'glpat')}`),
    k('gitlab-deploy', `gldt-${gen(B64URL, 20, 'gldt')}`),
    k('gitlab-runner', `glrt-${gen(B64URL, 20, 'glrt')}`),
    k('slack-bot', `xoxb-${gen('0123456789', 12, 'sb1')}-${gen('0123456789', 13, 'sb2')}-${gen(AN, 24, 'sb3')}`),
    k('slack-user', `xoxp-${gen('0123456789', 12, 'sp1')}-${gen('0123456789', 12, 'sp2')}-${gen('0123456789', 13, 'sp3')}-${gen(HEX, 32, 'sp4')}`),
    k('slack-webhook', `https://hooks.slack.com/services/T${gen(UP, 8, 'wh1')}/B${gen(UP, 8, 'wh2')}/${gen(AN, 24, 'wh3')}`),
    k('stripe-secret', `sk_live_${gen(AN, 24, 'sk')}`),
    k('stripe-test', `sk_test_${gen(AN, 24, 'skt')}`),
    k('stripe-restricted', `rk_live_${gen(AN, 24, 'rk')}`),
    k('stripe-webhook', `whsec_${gen(AN, 32, 'whsec')}`),
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
    k('bearer-opaque', `Bearer ${gen(B64URL, 40, 'bearer')}`, gen(B64URL, 40, 'bearer')),
    k('basic-credentials', `Basic ${Buffer.from(`canary-user:${pwd('basic')}`).toString('base64')}`, Buffer.from(`canary-user:${pwd('basic')}`).toString('base64'), pwd('basic')),
    k('password-pair', `password=${pwd('pair')}`, pwd('pair')),
    k('camel-password', `dbPassword: ${pwd('camel')}`, pwd('camel')),
    k('client-secret', `client_secret=${gen(B64URL, 32, 'cs')}`, gen(B64URL, 32, 'cs')),
    k('api-key-pair', `"x-api-key": "${gen(AN, 32, 'apikey')}"`, gen(AN, 32, 'apikey')),
    k('token-pair', `refresh_token=${gen(B64URL, 43, 'rt')}`, gen(B64URL, 43, 'rt')),
    k('amz-signature', `X-Amz-Signature=${gen(HEX, 64, 'amzsig')}`, gen(HEX, 64, 'amzsig')),
    k('otp-pair', `otp=${gen('0123456789', 9, 'otp')}x`, `${gen('0123456789', 9, 'otp')}x`),
    k('session-cookie', `session=${gen(B64URL, 32, 'sess')}`, gen(B64URL, 32, 'sess')),
    k('passphrase-pair', `passphrase='${pwd('phrase')} horse'`, `${pwd('phrase')} horse`),
    k('email', `canary.${gen('abcdefghijklmnopqrstuvwxyz', 10, 'mail')}@example.org`),
    k('phone', `+1 415-555-${gen('0123456789', 4, 'phone')}`),
    k('credit-card-visa', '4539 1488 0343 6467', '4539 1488 0343', '453914880343'),
    k('credit-card-amex', '378734493671000', '37873449367'),
    k('iban', 'DE44 5001 0517 5407 3249 31', 'DE44 5001 0517 5407', 'DE4450010517540732'),
    k('us-ssn', '457-55-5462', '457-55-5462'),
    k('openai-key', `sk-proj-${gen(B64URL, 48, 'openai')}`),
    k('anthropic-key', `sk-ant-api03-${gen(B64URL, 93, 'anthropic')}AA`),
    k('sendgrid-key', `SG.${gen(B64URL, 22, 'sg1')}.${gen(B64URL, 43, 'sg2')}`),
    k('shopify-token', `shpat_${gen(HEX, 32, 'shop')}`),
    k('huggingface-token', `hf_${gen(AN, 34, 'hf')}`),
    k('databricks-token', `dapi${gen(HEX, 32, 'dapi')}`),
    k('vault-token', `hvs.${gen(B64URL, 90, 'vault')}`),
    k('docker-hub-token', `dckr_pat_${gen(B64URL, 27, 'docker')}`),
    k('linear-key', `lin_api_${gen(AN, 40, 'linear')}`),
    k('grafana-token', `glsa_${gen(AN, 32, 'grafana')}_${gen(HEX, 8, 'grafana2')}`),
    k('base64-github-token', Buffer.from(`token ${ghp}`).toString('base64')),
    k('percent-encoded-password', encodeURIComponent(`{"password":"${pwd('pct')}"}`), pwd('pct')),
  ];
}

export const CANARY_CORPUS: CanaryKind[] = corpus();
