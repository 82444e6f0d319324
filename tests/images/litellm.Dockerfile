# LiteLLM proxy image built offline from a wheelhouse. Same interface as the
# official ghcr.io/berriai/litellm image: the proxy is the entrypoint, the
# arguments are `--config /app/config.yaml --port 4000`, python3 is there for
# the healthcheck, curl and wget are not needed.
FROM sacred-brain/debian-systemd:bookworm
ARG LITELLM_VERSION
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY *.whl /wheels/
RUN python3 -m venv /app/venv \
 && /app/venv/bin/pip install -q --no-index --find-links /wheels "litellm[proxy]==${LITELLM_VERSION}" \
 && rm -rf /wheels /root/.cache
RUN useradd --system --home-dir /app litellm
ENV PATH=/app/venv/bin:$PATH LITELLM_LOCAL_MODEL_COST_MAP=True PYTHONUNBUFFERED=1
WORKDIR /app
USER litellm
EXPOSE 4000
ENTRYPOINT ["litellm"]
CMD ["--port", "4000"]
