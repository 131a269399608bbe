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
