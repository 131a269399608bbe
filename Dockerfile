# One image for every service of the pipeline; docker-compose.yml picks the entry point per service.
# Build:  docker build -t jwt-audit .
# Node 24 is the active LTS (Node 20 reached end of life on 2026-04-30); the code and tests also
# run on Node 20.10+, which is what the development machines have.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY packages ./packages
COPY services ./services
COPY schemas ./schemas
RUN npm ci --no-audit --no-fund && npx turbo run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# Workspace layout is kept: packages resolve each other through node_modules links to their
# dist/, and read the schemas/ folder at runtime.
COPY --from=build /app /app
# Every path a service writes to exists in the image, owned by the runtime user and private to it:
# a named volume mounted there on first use copies this owner and mode, so the services can write
# to it without running as root (docker-compose.yml mounts one volume per path).
#   spool    the interceptor's disk spool (audit events while Kafka is unreachable)
#   archive  the archiver's segments and signed manifests
#   keys     the archiver's signing keys (a recreated container must sign with the same key)
#   detector the anomaly detector's per-subject state
#   sessions the sessionizer's open and recently ended sessions
RUN find /app/packages /app/services -path '*/src/*' -name '*.ts' -delete \
 && chown -R node:node /app \
 && install -d -o node -g node -m 0700 /var/lib/jwt-audit \
      /var/lib/jwt-audit/spool /var/lib/jwt-audit/archive /var/lib/jwt-audit/keys /var/lib/jwt-audit/detector \
      /var/lib/jwt-audit/sessions
USER node
EXPOSE 8080 9464
CMD ["node", "packages/cli/dist/bin.js", "--help"]
