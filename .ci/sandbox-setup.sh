#!/usr/bin/env bash
# Prepare the real sandboxes crew's tests need in CI: bubblewrap, a private dockerd and the
# `crew-sandbox:test` image, built without any registry (debootstrap + docker import).
#
#   .ci/sandbox-setup.sh            # idempotent; prints `export ...` lines, also writes $ENV_FILE
#   . "$ENV_FILE"                   # or: eval "$(.ci/sandbox-setup.sh)"
#   .ci/sandbox-setup.sh stop       # stop the dockerd this script started (by its pid)
#   . .ci/sandbox-setup.sh          # sourced: exports into the caller and traps EXIT to stop dockerd
#
# The dockerd runs with --bridge=none --iptables=false --ip-forward=false: the host network is
# untouched. Everything lives under $CREW_CI_CACHE (default /var/cache/crew-ci), so a second run
# reuses the rootfs, the image and the daemon if it still answers. Progress goes to stderr;
# stdout carries only the export lines.

_crew_sandbox_log() { echo "sandbox-setup: $*" >&2; }

_crew_sandbox_main() {
    set -euo pipefail
    local cache="${CREW_CI_CACHE:-/var/cache/crew-ci}"
    local d="$cache/dockerd"
    local image="${CREW_SANDBOX_IMAGE:-crew-sandbox:test}"
    local env_file="${CREW_SANDBOX_ENV_FILE:-$cache/sandbox.env}"
    local sock="unix://$d/docker.sock"
    # What the image holds; a cached rootfs or image made with another list is rebuilt.
    local packages="python3,python3-pytest,git,nodejs,npm"

    if [[ "${1:-}" == "stop" ]]; then
        if [[ -f "$d/dockerd.pid" ]]; then
            local pid
            pid="$(cat "$d/dockerd.pid")"
            if kill -0 "$pid" 2>/dev/null; then
                _crew_sandbox_log "stopping dockerd (pid $pid)"
                kill "$pid"
                for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
                kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
            fi
            rm -f "$d/dockerd.pid"
        fi
        return 0
    fi

    mkdir -p "$cache" "$d"

    # 1. packages (apt only when something is missing)
    local missing=()
    command -v bwrap >/dev/null || missing+=(bubblewrap)
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if ((${#missing[@]})); then
        _crew_sandbox_log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    fi

    # 2. dockerd (reuse one that still answers)
    local docker=(docker -H "$sock")
    local started=""
    if ! "${docker[@]}" info >/dev/null 2>&1; then
        _crew_sandbox_log "starting dockerd in $d"
        rm -f "$d/dockerd.pid" "$d/docker.sock"
        setsid dockerd --bridge=none --iptables=false --ip-forward=false \
            -H "$sock" --data-root "$d/data" --exec-root "$d/exec" \
            --pidfile "$d/dockerd.pid" >"$d/dockerd.log" 2>&1 </dev/null &
        started=$!
        local ok=""
        for _ in $(seq 1 300); do
            if "${docker[@]}" info >/dev/null 2>&1; then ok=1; break; fi
            kill -0 "$started" 2>/dev/null || break
            sleep 0.1
        done
        if [[ -z "$ok" ]]; then
            _crew_sandbox_log "dockerd did not answer; its log:"; tail -20 "$d/dockerd.log" >&2
            kill "$started" 2>/dev/null || true
            return 1
        fi
    fi

    # 3. the image (debootstrap rootfs cached; import when the image is missing or was made
    #    with another package list, e.g. before git joined it)
    local have
    have="$("${docker[@]}" image inspect -f '{{index .Config.Labels "crew.packages"}}' "$image" \
        2>/dev/null || true)"
    if [[ "$have" != "$packages" ]]; then
        local rootfs="$cache/rootfs"
        if [[ "$(cat "$rootfs/.crew-complete" 2>/dev/null)" != "$packages" ]]; then
            _crew_sandbox_log "debootstrap bookworm ($packages) into $rootfs (a few minutes)"
            rm -rf "$rootfs"
            # the packages through apt in the chroot: debootstrap's --include does not resolve
            # virtual packages (npm's node-* dependencies) and leaves them unconfigured
            if ! { debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian \
                    && chroot "$rootfs" apt-get update -qq \
                    && DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get install -y -qq \
                        --no-install-recommends ${packages//,/ }; } >"$cache/debootstrap.log" 2>&1
            then
                _crew_sandbox_log "debootstrap failed; its log:"; tail -20 "$cache/debootstrap.log" >&2
                [[ -n "$started" ]] && kill "$started"
                return 1
            fi
            rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
            echo "$packages" >"$rootfs/.crew-complete"
        fi
        _crew_sandbox_log "importing $image"
        tar -C "$rootfs" --exclude=./.crew-complete -c . \
            | "${docker[@]}" import -c 'CMD ["/bin/bash"]' -c "LABEL crew.packages=$packages" \
                - "$image" >/dev/null
    fi

    cat >"$env_file" <<EOF
export DOCKER_HOST=$sock
export CREW_SANDBOX_IMAGE=$image
export CREW_DOCKERD_PIDFILE=$d/dockerd.pid
EOF
    cat "$env_file"
    _crew_sandbox_log "ready (env in $env_file; stop with: ${BASH_SOURCE[0]} stop)"
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    # sourced: export into the caller and stop dockerd when the caller exits
    eval "$( (_crew_sandbox_main) )"
    _crew_sandbox_script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/sandbox-setup.sh"
    trap 'bash "$_crew_sandbox_script" stop' EXIT
else
    _crew_sandbox_main "$@"
fi
