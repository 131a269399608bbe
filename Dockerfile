# One image for every service of the pipeline; docker-compose.yml picks the entry point per service.
# Build:  docker build -t jwt-audit .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY packages ./packages
COPY services ./services
COPY schemas ./schemas
RUN npm ci --no-audit --no-fund && npx turbo run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# Workspace layout is kept: packages resolve each other through node_modules links to their
# dist/, and read the schemas/ folder at runtime.
COPY --from=build /app /app
RUN find /app/packages /app/services -path '*/src/*' -name '*.ts' -delete && chown -R node:node /app
USER node
EXPOSE 8080 9464
CMD ["node", "--help"]
