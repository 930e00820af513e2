# syntax=docker/dockerfile:1
# The Luminate image: `luminate serve` as uid 1000 on a read-only root filesystem.
#
#   docker build -t luminate:0.1.0 .
#
# Production pins both base images below by digest (python:3.11-slim-bookworm@sha256:...) and the
# built image by digest in deployments/kubernetes/production/kustomization.yaml.

# ---- build: install the package and its pinned dependencies into a virtualenv
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/luminate
WORKDIR /src
# Dependencies first, so a source change does not reinstall them.
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
RUN /opt/luminate/bin/pip install --constraint requirements.lock . \
    && /opt/luminate/bin/luminate --version

# ---- runtime: the virtualenv only, no compiler, no package caches
FROM python:3.11-slim-bookworm

RUN groupadd --gid 1000 luminate \
    && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin luminate
COPY --from=build /opt/luminate /opt/luminate

# No .pyc writes (the root filesystem is read-only in Kubernetes), logs straight to stdout.
ENV PATH=/opt/luminate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 1000:1000
EXPOSE 8080 8081

# No curl in a slim image: the standard library asks /healthz (liveness, never storage).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('LUMINATE_SERVER_PORT', '8080') + '/healthz', timeout=4)"]

ENTRYPOINT ["luminate", "serve"]
