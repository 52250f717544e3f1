# syntax=docker/dockerfile:1.7
# Oja: one image for every process type (API, worker, beat, migrate); the command picks the role.
#
#   docker build -t oja .
#   docker run --rm -p 8000:8000 -e OJA_SECRET_KEY=... -e OJA_DATABASE_URL=... oja
#
# Both stages must use the same Python image: the virtualenv built in the first is copied into the
# second, and its interpreter symlinks point at /usr/local/bin/python3.11.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

# The same uv as the Makefile, so the lock file is read exactly as on a developer's machine.
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /src

# Dependencies first, from the lock file only: this layer is rebuilt when uv.lock changes, not when
# the code does.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project --no-editable

# Then Oja itself, installed as a regular (non-editable) wheel so /src is not needed at run time.
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# ---------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# libmagic1: content sniffing (python-magic) needs the system library.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmagic1 \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid so mounted volumes can be prepared for it; /app/var holds embedded state (the SQLite
# file and local storage when no database or S3 is configured, beat's schedule).
RUN groupadd --system --gid 10001 oja \
    && useradd --system --uid 10001 --gid oja --create-home --home-dir /home/oja \
        --shell /usr/sbin/nologin oja \
    && mkdir -p /app/var \
    && chown oja:oja /app/var

COPY --from=builder /app/.venv /app/.venv

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OJA_ENV=production \
    OJA_VAR_DIR=/app/var

WORKDIR /app
USER oja:oja
EXPOSE 8000

# Liveness only (no database or broker round trip): slim has no curl, so ask Python.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

# Migrations run once per deployment (`oja migrate`), the worker and beat in their own containers.
CMD ["oja", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
