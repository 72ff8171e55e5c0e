# 智矫 zhijiao: one image for the API (gunicorn), the RQ worker, the cron scheduler and the migrations.
# docker-compose.yml runs it as `zhijiao serve`, `zhijiao worker`, `zhijiao cron` and `zhijiao db upgrade`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin zhijiao

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY backend ./backend
COPY mobile_api ./mobile_api
COPY media ./media
COPY workers ./workers
COPY migrations ./migrations
COPY web ./web
# editable, so alembic.ini and migrations/ stay beside the code where `zhijiao db upgrade` finds them
RUN pip install -e . \
    && mkdir -p /var/lib/zhijiao \
    && chown zhijiao:zhijiao /var/lib/zhijiao

# production: every secret and URL comes from the environment (see README.md); start-up fails if one is missing
ENV ZHIJIAO_ENV=production \
    INSTANCE_DIR=/var/lib/zhijiao \
    HOST=0.0.0.0 \
    PORT=8000 \
    WEB_CONCURRENCY=4 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/zhijiao-metrics

USER zhijiao
EXPOSE 8000
CMD ["zhijiao", "serve"]
