#!/usr/bin/env bash
# A private Docker engine for `sam local` and the image tiers, made from Debian's docker.io, and the
# stand-in Lambda image SAM runs functions in.
#
#   docker-engine.sh start DIR   start an engine whose socket, data and exec roots live in DIR (or
#                                find the one already running there); print `export DOCKER_HOST=...`
#                                on stdout (everything else goes to stderr), so a shell can
#                                `eval "$(make -s sam-local-engine)"`
#   docker-engine.sh stop DIR    remove its containers, stop it by its PID, unmount and delete DIR
#
# The engine: no iptables, no NAT, no IP forwarding; published ports on 127.0.0.1 only; containers
# resolve names against 127.0.0.1, so with no network a lookup fails at once instead of waiting out
# resolver timeouts. The image: a stand-in for public.ecr.aws/lambda/python:3.13-x86_64 made from
# public parts (a Debian minbase rootfs, this machine's CPython 3.13, awslambdaric and boto3 from
# PyPI); the rootfs tarball is cached in .tools/sam-local/.
# Exit codes: 0 done, 1 failed, 77 cannot run here (a SKIPPED line on stderr says why).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/.tools/sam-local
IMAGE=public.ecr.aws/lambda/python:3.13-x86_64

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# = 2 ] || usage
ACTION=$1
DIR=$2
export DOCKER_HOST=unix://$DIR/docker.sock
# a bridge of its own, so engines of two checkouts (or a user's and make test's) never share docker0
BRIDGE=awscicd$(printf %s "$DIR" | cksum | cut -c1-7)
log() { printf '[engine] %s\n' "$*" >&2; }
skip() { printf '\n*** SKIPPED: sam local tier: %s ***\n\n' "$*" >&2; exit 77; }
running() { [ -f "$DIR/dockerd.pid" ] && kill -0 "$(cat "$DIR/dockerd.pid")" 2>/dev/null && docker info >/dev/null 2>&1; }

stop() {
  set +e
  if [ -f "$DIR/dockerd.pid" ]; then
    docker ps -aq 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1
    PID=$(cat "$DIR/dockerd.pid")
    kill -TERM "$PID" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$PID" 2>/dev/null || break; sleep 1; done
    kill -KILL "$PID" 2>/dev/null
  fi
  grep -F "$DIR/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  ip link delete "$BRIDGE" 2>/dev/null
  rm -rf "$DIR"
  log "stopped the engine in $DIR"
}

rootfs() {  # the stand-in's root filesystem, cached
  [ -s "$CACHE/rootfs.tar" ] && return 0
  local mirror R=$DIR/rootfs prefix
  mirror=$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' /etc/apt/sources.list.d/*.sources \
           /etc/apt/sources.list 2>/dev/null | head -1)
  [ -n "$mirror" ] || skip "no Debian mirror configured in apt sources"
  prefix=$(python3.13 -c 'import sys; print(sys.base_prefix)')
  log "debootstrap bookworm from $mirror (cached afterwards)"
  debootstrap --variant=minbase bookworm "$R" "$mirror" >"$DIR/debootstrap.log" 2>&1 \
    || skip "debootstrap failed: $(tail -1 "$DIR/debootstrap.log")"
  cp /etc/resolv.conf "$R/etc/resolv.conf"
  chroot "$R" sh -c 'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends libssl3 libsqlite3-0 libffi8 libreadline8 libncursesw6 libgdbm6 libbz2-1.0 \
      liblzma5 zlib1g libuuid1 >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*' \
    || skip "cannot install runtime libraries into the rootfs"
  mkdir -p "$R$prefix" "$R/var/runtime" "$R/var/task" "$R/opt"
  tar -C "$prefix" -c --exclude=lib/python3.13/test --exclude=lib/python3.13/idlelib \
      --exclude=lib/python3.13/tkinter --exclude=__pycache__ --exclude='lib/python3.13/site-packages/*' . \
    | tar -C "$R$prefix" -x
  ln -sfn "$prefix" "$R/var/lang"
  # the runtime interface client, and boto3 as the real Lambda runtime bundles it
  "$prefix/bin/python3.13" -m pip install -q --no-warn-script-location --target "$R/var/runtime" \
    awslambdaric boto3 >"$DIR/pip.log" 2>&1 || skip "cannot install awslambdaric/boto3: $(tail -1 "$DIR/pip.log")"
  cat >"$R/var/runtime/bootstrap" <<'EOS'
#!/bin/sh
export PYTHONPATH="/var/task:/opt/python:/opt/python/lib/python3.13/site-packages:/var/runtime${PYTHONPATH:+:$PYTHONPATH}"
cd "${LAMBDA_TASK_ROOT:-/var/task}"
exec /var/lang/bin/python3.13 -m awslambdaric "${_HANDLER:-$AWS_LAMBDA_FUNCTION_HANDLER}"
EOS
  chmod +x "$R/var/runtime/bootstrap"
  mkdir -p "$CACHE"
  tar -C "$R" -cf "$CACHE/rootfs.tar.partial" . && mv "$CACHE/rootfs.tar.partial" "$CACHE/rootfs.tar"
  rm -rf "$R"
}

bridge() {  # the engine's bridge, on a /24 of 10.213.0.0/16 no interface of this machine uses
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE"
  local n used
  used=$(ip -4 -o addr show | awk '{print $4}')
  for n in $(seq $(( $(printf %s "$DIR" | cksum | cut -d' ' -f1) % 200 + 1 )) 254) $(seq 1 254); do
    grep -q "^10\.213\.$n\." <<<"$used" && continue
    ip link add name "$BRIDGE" type bridge && ip addr add "10.213.$n.1/24" dev "$BRIDGE" \
      && ip link set "$BRIDGE" up && return 0
    skip "cannot create the bridge $BRIDGE"
  done
  skip "no free /24 in 10.213.0.0/16 for the bridge"
}

start() {
  if running; then
    log "an engine is already running in $DIR"
    echo "export DOCKER_HOST=$DOCKER_HOST"
    return 0
  fi
  [ "$(id -u)" = 0 ] || skip "needs root to start a Docker engine (running as uid $(id -u))"
  mkdir -p "$DIR" && chmod 700 "$DIR"
  if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    log "installing docker.io and debootstrap from Debian"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io debootstrap; } \
      >"$DIR/apt.log" 2>&1 || skip "cannot install docker.io/debootstrap: $(tail -1 "$DIR/apt.log")"
  fi
  command -v docker >/dev/null || skip "no docker client"
  trap 'rc=$?; [ "$rc" = 0 ] || stop; exit "$rc"' EXIT  # a start that fails leaves nothing running
  bridge
  log "starting a private dockerd (socket $DOCKER_HOST, bridge $BRIDGE)"
  setsid dockerd --storage-driver=overlay2 --iptables=false --ip6tables=false --ip-forward=false \
    --ip-masq=false --ip=127.0.0.1 --dns=127.0.0.1 --bridge="$BRIDGE" --host "$DOCKER_HOST" --data-root "$DIR/data" \
    --exec-root "$DIR/exec" --pidfile "$DIR/dockerd.pid" >"$DIR/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || skip "dockerd did not start: $(tail -2 "$DIR/dockerd.log" | tr '\n' ' ')"
  rootfs
  log "importing the stand-in image as $IMAGE"
  docker import \
    --change 'ENV PATH=/var/lang/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task' --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change 'WORKDIR /var/task' --change 'ENTRYPOINT ["/var/runtime/bootstrap"]' \
    "$CACHE/rootfs.tar" "$IMAGE" >/dev/null
  docker tag "$IMAGE" public.ecr.aws/lambda/python:3.13
  trap - EXIT
  log "ready; stop it with: make sam-local-engine-stop"
  echo "export DOCKER_HOST=$DOCKER_HOST"
}

case "$ACTION" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
