# qactivity: TypeScript sources run through tsx (a runtime dependency); no build step.
FROM node:20-bookworm-slim
WORKDIR /app
# Fonts for the PDF reports (DejaVu, and Droid Sans Fallback for CJK).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core fonts-droid-fallback && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-fund --no-audit && npm cache clean --force
COPY bin bin
COPY cli cli
COPY lib lib
COPY qumulo qumulo
COPY collector collector
COPY jobs jobs
COPY api api
COPY stats stats
COPY dashboards dashboards
COPY reports reports
COPY simulator simulator
# the one-shot Grafana setup of docker-compose.yml (service grafana-init)
COPY scripts/grafana-init.ts scripts/grafana-init.ts
ENV QACTIVITY_DATA_DIR=/data
VOLUME /data
EXPOSE 8750
ENTRYPOINT ["node", "bin/qactivity.mjs"]
