# Small image, non-root, SQLite on a volume. `docker run` sends SIGTERM on stop; the bot handles it.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 ECO_BOT_CONFIG=/config/config.toml
COPY --from=build /install /usr/local
RUN useradd --create-home --uid 10001 eco && mkdir -p /data /config && chown eco:eco /data && chmod 700 /data
USER eco
# The default database.url (sqlite+aiosqlite:///data/eco-bot.db) is relative: /data/eco-bot.db here.
WORKDIR /
VOLUME ["/data"]
# Migrations run on start too; running them first makes a broken database fail fast and visibly.
# exec keeps the bot as PID 1's direct child signal target (sh -c + exec = the bot receives SIGTERM).
CMD ["sh", "-c", "python -m bot db upgrade && exec python -m bot"]
STOPSIGNAL SIGTERM
