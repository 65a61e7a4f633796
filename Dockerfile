# crew's default sandbox image: where agents' commands and tests run (crew.tools.sandbox.docker).
#
#   docker build -t crew-sandbox:latest .
#
# crew starts one throwaway container per command with no network, a read-only root, all
# capabilities dropped, no-new-privileges, memory / cpu / pids limits and a tmpfs /tmp; only the
# workspace is mounted (read-write, at /workspace), as your own uid:gid, with HOME=/tmp.
# Use your own image (your language's toolchain, your project's dependencies) with
# CREW_SANDBOX_IMAGE=<image>. Anything the tests need must be in the image: there is no network
# at run time.
#
# Every package comes from Debian's archive, so the image builds from a Debian mirror alone.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 python3-pytest python3-venv python3-pip \
        git ripgrep ca-certificates make \
    && rm -rf /var/lib/apt/lists/* \
    && ln -sf /usr/bin/python3 /usr/local/bin/python

ENV HOME=/tmp \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

WORKDIR /workspace
CMD ["/bin/bash"]
