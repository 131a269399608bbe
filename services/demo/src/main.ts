/** The demo side of `npm start` as a process (AUDIT_DEMO_* environment: src/config.ts); exit codes in packages/runtime/README.md. */
import { defineComponent, runService } from '@jwt-audit/runtime';
import { startAuthServer, type AuthServer } from './auth-server.js';
import { serviceConfig } from './config.js';
import { startUpstream } from './upstream.js';
import { startWebhookReceiver } from './webhook-receiver.js';

await runService({
  ...serviceConfig,
  create: (config, { logger }) => {
    const closers: Array<() => Promise<void>> = [];
    return defineComponent({
      start: async () => {
        const auth: AuthServer = await startAuthServer({
          port: config.ports.auth,
          host: config.host,
          ...(config.issuer ? { issuer: config.issuer } : {}),
          ...(config.keyFile ? { keyFile: config.keyFile } : {}),
          logger,
        });
        closers.push(() => auth.close());
        const upstream = await startUpstream({ port: config.ports.upstream, host: config.host, logger });
        closers.push(() => upstream.close());
        const webhook = await startWebhookReceiver({
          port: config.ports.webhook,
          host: config.host,
          logger,
          ...(config.webhookSecret ? { secret: config.webhookSecret } : {}),
        });
        closers.push(() => webhook.close());
        return { auth: auth.url, jwks: auth.jwksUrl, upstream: upstream.url, webhook: webhook.url };
      },
      stop: async () => {
        await Promise.all(closers.map((close) => close()));
      },
    });
  },
});
