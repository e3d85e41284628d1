# syntax=docker/dockerfile:1
# Cadenza's image: one image for `cadenza serve`, `cadenza worker` and `cadenza init`.
# Build: docker build -t cadenza .   Run the whole stack: docker compose up (see docs/deploy.md).

# Stage 1 builds the wheel and its dependencies into a virtualenv, with pip's caches and the
# build tools left behind in this stage.
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/cadenza \
    && /opt/cadenza/bin/pip install --upgrade pip \
    && /opt/cadenza/bin/pip install .

# Stage 2: the runtime, the virtualenv alone, run by an unprivileged user.
FROM python:3.12-slim AS runtime
RUN groupadd --system --gid 10001 cadenza \
    && useradd --system --uid 10001 --gid cadenza --home-dir /var/lib/cadenza \
       --create-home --shell /usr/sbin/nologin cadenza
COPY --from=build /opt/cadenza /opt/cadenza
COPY examples /opt/cadenza/examples
# Production by default: the process refuses to start with the development secret.
ENV PATH=/opt/cadenza/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CADENZA_ENVIRONMENT=production \
    CADENZA_LOG_FORMAT=json
USER cadenza:cadenza
WORKDIR /var/lib/cadenza
EXPOSE 8000
# Ready means the database answers and its schema is current (/readyz); workers, which
# serve no HTTP, override this check in compose.yaml.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
# SIGTERM lets a worker finish the batch in hand, and uvicorn its requests, before exiting.
STOPSIGNAL SIGTERM
CMD ["cadenza", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
