# Orkestra's one image: `ork run`, `ork gateway` and `ork control` (docs/deploying.md).
# Two stages: wheels are built in the first, only installed in the second, so the final image
# has no compiler, no build tools and no pip cache. It runs as uid/gid 10001 and writes nothing
# outside /tmp, so it works with a read-only root filesystem.

FROM python:3.12-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY setup.cfg pyproject.toml README.md ./
COPY orkestra ./orkestra
RUN pip wheel --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-index --find-links /tmp/wheels orkestra \
    && rm -rf /tmp/wheels \
    && groupadd --gid 10001 orkestra \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin orkestra
USER 10001:10001
EXPOSE 8080 8443 8081
ENTRYPOINT ["ork"]
CMD ["run", "-f", "/etc/orkestra/katalog/katalog.yaml"]
