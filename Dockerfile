# qactivity: compiled to JavaScript in a build stage; the image holds dist/ and the production
# dependencies only, and runs as the unprivileged user `node` of the base image.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-fund --no-audit
COPY tsconfig.json tsconfig.build.json ./
COPY cli cli
COPY lib lib
COPY qumulo qumulo
COPY collector collector
COPY jobs jobs
COPY api api
COPY stats stats
COPY dashboards dashboards
COPY slurm slurm
COPY reports reports
COPY simulator simulator
# the one-shot Grafana setup of docker-compose.yml (service grafana-init)
COPY scripts/grafana-init.ts scripts/grafana-init.ts
RUN npm run build

FROM node:20-bookworm-slim
# Fonts for the PDF reports (DejaVu, and Droid Sans Fallback for CJK).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core fonts-droid-fallback && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-fund --no-audit && npm cache clean --force
COPY bin/qactivity.mjs bin/qactivity.mjs
COPY --from=build /src/dist dist
# Volumes mounted here start as copies of these directories, so they belong to `node` too.
RUN mkdir -p /data /grafana-token && chown node:node /data /grafana-token
USER node
ENV QACTIVITY_DATA_DIR=/data
VOLUME /data
EXPOSE 8750
ENTRYPOINT ["node", "bin/qactivity.mjs"]
