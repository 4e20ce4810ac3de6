# Small image, non-root, SQLite on a volume. `docker run` sends SIGTERM on stop; the bot handles it.
# Reproducible: the base image by version and digest (python:3.11.15-slim, a multi-arch index digest),
# every dependency and the build backend from hashed locks (tools/check_lock.py keeps them in step with
# pyproject.toml; CI fails when they drift), and the project itself with --no-deps.
FROM python:3.11.15-slim@sha256:90744cff8f32887f075c47d747a173ff333e9e98801667af93c357fa9f5e28ff AS build
WORKDIR /src
COPY requirements-build.lock requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements-build.lock
RUN pip install --no-cache-dir --require-hashes --prefix=/install -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-cache-dir --no-deps --no-build-isolation --prefix=/install .

FROM python:3.11.15-slim@sha256:90744cff8f32887f075c47d747a173ff333e9e98801667af93c357fa9f5e28ff
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 ECO_BOT_CONFIG=/config/config.toml
COPY --from=build /install /usr/local
RUN useradd --create-home --uid 10001 eco && mkdir -p /data /config && chown eco:eco /data && chmod 700 /data
USER eco
# The default database.url (sqlite+aiosqlite:///data/eco-bot.db) is relative: /data/eco-bot.db here.
WORKDIR /
VOLUME ["/data"]
# Migrations run on start too; running them first makes a broken database fail fast and visibly.
# exec keeps the bot as PID 1's direct child signal target (sh -c + exec = the bot receives SIGTERM).
# Healthy while the bot's heartbeat (a bot_state row written every database.heartbeat_seconds) is younger
# than database.heartbeat_max_age_seconds (180 s): a hung or dead bot turns the container unhealthy.
HEALTHCHECK --interval=60s --timeout=20s --start-period=120s --retries=3 CMD ["python", "-m", "bot", "health"]
CMD ["sh", "-c", "python -m bot db upgrade && exec python -m bot"]
STOPSIGNAL SIGTERM
