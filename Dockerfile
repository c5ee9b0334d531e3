# The Fargate image: the same handlers as Lambda, served by host/ (gunicorn) as a non-root user.
# Dependencies come from a wheelhouse in the build context (.wheels/, `make image-context`), so the
# build needs no network; the base is a build argument (the official image by default).
ARG BASE_IMAGE=python:3.13-slim

FROM ${BASE_IMAGE} AS dependencies
COPY .wheels/ /wheels/
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-index --find-links /wheels/wheels \
      --require-hashes -r /wheels/requirements.txt

FROM ${BASE_IMAGE}
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin simple-api
COPY --from=dependencies /opt/venv /opt/venv
COPY host/ /app/host/
COPY functions/ /app/functions/
COPY layers/shared/simple_api/ /app/layers/shared/simple_api/
COPY template.yaml /app/template.yaml
ENV PYTHONPATH=/app:/app/layers/shared \
    HOST_TEMPLATE=/app/template.yaml \
    HOST_BIND=0.0.0.0:8080 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /app
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["/opt/venv/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthcheck', timeout=2)"]
CMD ["/opt/venv/bin/gunicorn", "-c", "/app/host/gunicorn.conf.py", "host.wsgi:app"]
