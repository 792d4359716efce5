# The JupyterHub hub image with hubplugins, for the Zero-to-JupyterHub chart 4.x.
#
#   docker build -t registry.example.org/jupyterhub/hubplugins-hub:0.1.0 .
#
# then in the helm values:
#
#   hub:
#     image: {name: registry.example.org/jupyterhub/hubplugins-hub, tag: "0.1.0"}
#
# Keep HUB_IMAGE_TAG equal to the chart version you deploy: the chart and its
# hub image are released together.
ARG HUB_IMAGE=quay.io/jupyterhub/k8s-hub
ARG HUB_IMAGE_TAG=4.4.0

# -- build the wheel, so the final image holds no sources or build tools ------
FROM ${HUB_IMAGE}:${HUB_IMAGE_TAG} AS wheel
USER root
WORKDIR /build
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# -- the hub image --------------------------------------------------------------
FROM ${HUB_IMAGE}:${HUB_IMAGE_TAG}
USER root
COPY --from=wheel /wheels /tmp/wheels
# The image ends with exactly the packages the tests run: the base image's
# pins with two upgrades, as hub-image-constraints.txt says (JupyterHub 5.5.0
# to 5.5.4, the 5.5 security and bug-fix releases, same database schema; and
# KubeSpawner 7.0.0 to 7.1.0, which hubplugins needs), on the base image's
# Python 3.12. A base image of another Python, or a pin pip cannot keep, fails
# the build.
COPY hub-image-constraints.txt /tmp/constraints.txt
RUN python3 -c 'import sys; assert sys.version_info[:2] == (3, 12), sys.version' \
    && pip install --no-cache-dir --constraint /tmp/constraints.txt /tmp/wheels/*.whl \
    && pip check \
    && rm -rf /tmp/wheels /tmp/constraints.txt \
    && hubplugins --help > /dev/null
# Back to the base image's user (jovyan, uid 1000), numeric so that the chart's
# runAsNonRoot check can verify it.
USER 1000
