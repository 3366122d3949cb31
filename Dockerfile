# syntax=docker/dockerfile:1
# routellm serve in a container: no torch, non-root, models baked in (the mf checkpoint and its static embedder
# ship in the wheels) or mounted under /models. See docs/deploy.md.
#   docker build -t routellm .
#   docker run -p 6060:6060 -e OPENAI_API_KEY -v "$PWD/deploy:/config:ro" routellm
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
COPY core/ core/
COPY plugins/routellm-router-random/ plugins/routellm-router-random/
COPY plugins/routellm-router-mf/ plugins/routellm-router-mf/
COPY plugins/routellm-embedder-static/ plugins/routellm-embedder-static/
COPY plugins/routellm-embedder-huggingface/ plugins/routellm-embedder-huggingface/
# The default mf checkpoint embeds with the static embedder's packaged model: nothing to fetch at run time.
# (`checkpoint_path: minilm` needs all-MiniLM-L6-v2: mount a Hub snapshot under /models/huggingface.)
RUN pip install "./core[serve]" ./plugins/routellm-router-random ./plugins/routellm-embedder-static \
        ./plugins/routellm-embedder-huggingface ./plugins/routellm-router-mf

FROM python:${PYTHON_VERSION}-slim AS runtime
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/models/huggingface \
    ROUTELLM_CACHE_DIR=/models/routellm \
    HF_HUB_OFFLINE=1
RUN groupadd --system --gid 10001 routellm \
    && useradd --system --uid 10001 --gid routellm --home-dir /home/routellm --create-home routellm \
    && mkdir -p /models /config \
    && chown routellm:routellm /models
COPY --from=build /opt/venv /opt/venv
COPY --chown=routellm:routellm deploy/config.yaml /config/config.yaml
USER 10001:10001
WORKDIR /home/routellm
EXPOSE 6060
# 200 only once every router has scored its warm-up prompt.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:6060/health', timeout=2).status != 200)"]
ENTRYPOINT ["routellm", "serve"]
CMD ["--config", "/config/config.yaml", "--routers", "mf", "random", "--host", "0.0.0.0"]
