# Keygate: multi-stage build. The build stage compiles the server (dist/) and the browser bundle
# (web/dist/) with esbuild; the runtime image holds production dependencies and that output only,
# runs it with plain node (no TypeScript at run time), and runs as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY server ./server
COPY web ./web
RUN npm run build

FROM node:20-bookworm-slim AS runtime
# JSON log lines for `docker compose logs` and log collectors (LOG_FORMAT=pretty for people).
ENV NODE_ENV=production PORT=8080 LOG_FORMAT=json
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/web/dist ./web/dist
COPY db ./db
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/-/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# exec form: node is PID 1 and gets docker stop's SIGTERM itself (graceful drain, SHUTDOWN_TIMEOUT).
CMD ["node", "--enable-source-maps", "dist/main.js"]
