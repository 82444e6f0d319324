# LiteLLM proxy image built offline from a wheelhouse. Same interface as the
# official ghcr.io/berriai/litellm image: the proxy is the entrypoint, the
# arguments are `--config /app/config.yaml --port 4000`, python3 is there for
# the healthcheck, curl and wget are not needed. Like the official image it
# has Node, the `prisma` package and a client generated at build time from
# LiteLLM's schema, so a proxy with DATABASE_URL starts; unlike it, no Prisma
# engines (binaries.prisma.sh is out of reach): they come at run time from
# litellm_prisma_engines_archive, bind-mounted by roles/litellm_compose.
FROM sacred-brain/debian-systemd:bookworm
ARG LITELLM_VERSION
ARG PRISMA_REQUIREMENT
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv nodejs \
 && rm -rf /var/lib/apt/lists/*
COPY *.whl /wheels/
RUN python3 -m venv /app/venv \
 && /app/venv/bin/pip install -q --no-index --find-links /wheels "litellm[proxy]==${LITELLM_VERSION}" "${PRISMA_REQUIREMENT}" \
 && rm -rf /wheels /root/.cache
# The Prisma CLI that prisma-client-py runs (npm ci of tests/realapi/prisma-cli,
# without its postinstall engine download), where prisma-client-py looks for it.
ENV PRISMA_BINARY_CACHE_DIR=/app/.cache/prisma-python/binaries PRISMA_HIDE_UPDATE_MESSAGE=1
COPY prisma-cli/ /app/.cache/prisma-python/binaries/
# The client, generated into the prisma package as LiteLLM's images do at build
# time. The CLI wants a query and a schema engine to generate with and would
# download them: stand-ins that answer --version only are named instead
# (generating runs neither), and removed.
RUN printf '#!/bin/sh\necho "engine ac9d7041ed77bcc8a8dbd2ab6616b39013829574"\n' >/tmp/engine-stub \
 && chmod 0755 /tmp/engine-stub \
 && cd "$(/app/venv/bin/python -c 'import litellm_proxy_extras, os; print(os.path.dirname(litellm_proxy_extras.__file__))')" \
 && PATH=/app/venv/bin:$PATH PRISMA_OFFLINE_MODE=true PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING=1 \
    PRISMA_QUERY_ENGINE_BINARY=/tmp/engine-stub PRISMA_SCHEMA_ENGINE_BINARY=/tmp/engine-stub \
    /app/venv/bin/prisma generate --schema schema.prisma \
 && rm /tmp/engine-stub
RUN useradd --system --home-dir /app litellm
ENV PATH=/app/venv/bin:$PATH LITELLM_LOCAL_MODEL_COST_MAP=True PYTHONUNBUFFERED=1
WORKDIR /app
USER litellm
EXPOSE 4000
ENTRYPOINT ["litellm"]
CMD ["--port", "4000"]
