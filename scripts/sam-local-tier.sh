#!/usr/bin/env bash
# The Docker tiers: prove `sam local invoke` / `sam local start-api` and the Fargate image offline.
#
#   1. start an isolated Docker engine: its own socket, data root and exec root; no iptables, no NAT,
#      no IP forwarding; published ports on 127.0.0.1 only; containers resolve names against
#      127.0.0.1, so with no network a lookup fails at once instead of waiting out resolver
#      timeouts. Stopped by its PID at exit.
#   2. build a stand-in for public.ecr.aws/lambda/python:3.13-x86_64 from public parts (a Debian
#      minbase rootfs, this machine's CPython 3.13, awslambdaric and boto3 from PyPI). It lives only
#      inside that throwaway engine; the rootfs tarball is cached in .tools/sam-local/.
#   3. sam build (x86_64), `sam local invoke -e` for every events/ fixture, checked against
#      events/expected.json; then `sam local start-api --warm-containers EAGER` and the contract suite.
#   4. the Fargate image: a stand-in python:3.13-slim made from the same rootfs, `docker build` of the
#      Dockerfile from a local wheelhouse, the container on 127.0.0.1 until its HEALTHCHECK says
#      healthy, the contract suite and the hostile-traffic tier (tests/hostile) against it.
#
# TIERS selects what runs after the engine starts: "sam-local container" (default), or one of them.
# Exit codes: 0 passed, 1 failed, 77 could not run here (a SKIPPED line says why).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SAM=$ROOT/.tools/sam/bin/sam
PY=$ROOT/.venv/bin/python
CACHE=$ROOT/.tools/sam-local
IMAGE=public.ecr.aws/lambda/python:3.13-x86_64
BUILD=$ROOT/.aws-sam/build-x86_64
W=$(mktemp -d /tmp/awscicd-sl.XXXX)   # short: the engine's unix sockets live below it
export DOCKER_HOST=unix://$W/docker.sock
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1
OVERRIDES=(--parameter-overrides Architecture=x86_64)
API_PID=""
TIERS=${TIERS:-sam-local container}

free_port() { "$PY" -c 'from host.local import free_port; print(free_port())'; }
skip() { printf '\n*** SKIPPED: sam local tier: %s ***\n\n' "$*"; exit 77; }
log() { printf '[sam-local] %s\n' "$*"; }

cleanup() {
  set +e
  if [ -n "$API_PID" ]; then kill -TERM -- "-$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null; fi
  if [ -f "$W/dockerd.pid" ]; then
    docker ps -aq 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1
    PID=$(cat "$W/dockerd.pid")
    kill -TERM "$PID" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$PID" 2>/dev/null || break; sleep 1; done
    kill -KILL "$PID" 2>/dev/null
  fi
  grep -F "$W/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

# ---------------------------------------------------------------- 1. engine
[ "$(id -u)" = 0 ] || skip "needs root to start a Docker engine (running as uid $(id -u))"
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  log "installing docker.io and debootstrap from Debian"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io debootstrap; } \
    >"$W/apt.log" 2>&1 || skip "cannot install docker.io/debootstrap: $(tail -1 "$W/apt.log")"
fi
command -v docker >/dev/null || skip "no docker client"
log "starting an isolated dockerd (socket $DOCKER_HOST)"
dockerd --storage-driver=overlay2 --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
  --ip=127.0.0.1 --dns=127.0.0.1 --host "$DOCKER_HOST" --data-root "$W/data" --exec-root "$W/exec" \
  --pidfile "$W/dockerd.pid" >"$W/dockerd.log" 2>&1 &
for _ in $(seq 1 40); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
docker info >/dev/null 2>&1 || skip "dockerd did not start: $(tail -2 "$W/dockerd.log" | tr '\n' ' ')"

# ---------------------------------------------------------------- 2. stand-in Lambda image
PREFIX=$(python3.13 -c 'import sys; print(sys.base_prefix)')
if [ ! -s "$CACHE/rootfs.tar" ]; then
  MIRROR=$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' /etc/apt/sources.list.d/*.sources \
           /etc/apt/sources.list 2>/dev/null | head -1)
  [ -n "$MIRROR" ] || skip "no Debian mirror configured in apt sources"
  R=$W/rootfs
  log "debootstrap bookworm from $MIRROR (cached afterwards)"
  debootstrap --variant=minbase bookworm "$R" "$MIRROR" >"$W/debootstrap.log" 2>&1 \
    || skip "debootstrap failed: $(tail -1 "$W/debootstrap.log")"
  cp /etc/resolv.conf "$R/etc/resolv.conf"
  chroot "$R" sh -c 'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends libssl3 libsqlite3-0 libffi8 libreadline8 libncursesw6 libgdbm6 libbz2-1.0 \
      liblzma5 zlib1g libuuid1 >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*' \
    || skip "cannot install runtime libraries into the rootfs"
  mkdir -p "$R$PREFIX" "$R/var/runtime" "$R/var/task" "$R/opt"
  tar -C "$PREFIX" -c --exclude=lib/python3.13/test --exclude=lib/python3.13/idlelib \
      --exclude=lib/python3.13/tkinter --exclude=__pycache__ --exclude='lib/python3.13/site-packages/*' . \
    | tar -C "$R$PREFIX" -x
  ln -sfn "$PREFIX" "$R/var/lang"
  # the runtime interface client, and boto3 as the real Lambda runtime bundles it
  "$PREFIX/bin/python3.13" -m pip install -q --no-warn-script-location --target "$R/var/runtime" \
    awslambdaric boto3 >"$W/pip.log" 2>&1 || skip "cannot install awslambdaric/boto3: $(tail -1 "$W/pip.log")"
  cat >"$R/var/runtime/bootstrap" <<'EOS'
#!/bin/sh
export PYTHONPATH="/var/task:/opt/python:/opt/python/lib/python3.13/site-packages:/var/runtime${PYTHONPATH:+:$PYTHONPATH}"
cd "${LAMBDA_TASK_ROOT:-/var/task}"
exec /var/lang/bin/python3.13 -m awslambdaric "${_HANDLER:-$AWS_LAMBDA_FUNCTION_HANDLER}"
EOS
  chmod +x "$R/var/runtime/bootstrap"
  mkdir -p "$CACHE"
  tar -C "$R" -cf "$CACHE/rootfs.tar.partial" . && mv "$CACHE/rootfs.tar.partial" "$CACHE/rootfs.tar"
fi
log "importing the stand-in image as $IMAGE"
docker import \
  --change 'ENV PATH=/var/lang/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LAMBDA_TASK_ROOT=/var/task' --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
  --change 'WORKDIR /var/task' --change 'ENTRYPOINT ["/var/runtime/bootstrap"]' \
  "$CACHE/rootfs.tar" "$IMAGE" >/dev/null
docker tag "$IMAGE" public.ecr.aws/lambda/python:3.13

FAILED=0
# ---------------------------------------------------------------- 3. sam build + sam local invoke
if [[ " $TIERS " == *" sam-local "* ]]; then
log "sam build (x86_64)"
"$SAM" build --cached --build-dir "$BUILD" "${OVERRIDES[@]}" >"$W/build.log" 2>&1 \
  || { tail -20 "$W/build.log"; echo "sam build failed"; exit 1; }
for event in events/*_*.json; do
  name=$(basename "$event" .json)
  function=$("$PY" -c "import sys; print(''.join(p.title() for p in sys.argv[1].rsplit('_', 1)[0].split('_')) + 'Function')" "$name")
  if ! "$SAM" local invoke "$function" -e "$event" -t "$BUILD/template.yaml" --skip-pull-image \
       "${OVERRIDES[@]}" >"$W/$name.out" 2>"$W/$name.err"; then
    log "FAIL $name: sam local invoke exited non-zero"; tail -5 "$W/$name.err"; FAILED=1; continue
  fi
  if verdict=$(PYTHONPATH=layers/shared "$PY" - "$name.json" "$W/$name.out" <<'EOF'
import json, sys
from pathlib import Path
from simple_api.services import smoke
fixture, output = sys.argv[1], Path(sys.argv[2]).read_text()
case = next(c for c in smoke.load_cases(Path("events")) if c.fixture == fixture)
if case.needs == "secret":
    print("skipped (needs the secret, which no container here can reach)"); sys.exit(0)
answer = json.loads(output.strip().splitlines()[-1])
problem = smoke.problem(case, answer)
print(problem or f"{answer['statusCode']} as documented"); sys.exit(1 if problem else 0)
EOF
  ); then log "ok   $name: $verdict"; else log "FAIL $name: $verdict"; tail -15 "$W/$name.err"; FAILED=1; fi
done

# ---------------------------------------------------------------- 4. sam local start-api + contract suite
PORT=$(free_port)
log "sam local start-api on 127.0.0.1:$PORT (warm containers)"
setsid "$SAM" local start-api -t "$BUILD/template.yaml" --host 127.0.0.1 -p "$PORT" --skip-pull-image \
  --warm-containers EAGER "${OVERRIDES[@]}" >"$W/start-api.log" 2>&1 &
API_PID=$!
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$PORT/healthcheck" >/dev/null 2>&1 && break
  kill -0 "$API_PID" 2>/dev/null || break
  sleep 1
done
if ! curl -sf "http://127.0.0.1:$PORT/healthcheck" >/dev/null 2>&1; then
  tail -20 "$W/start-api.log"; echo "sam local start-api did not answer"; exit 1
fi
"$PY" -m pytest tests/contract/test_contract.py --base-url "http://127.0.0.1:$PORT" --secret absent -q \
  -p no:cacheprovider -o addopts="--allow-hosts=127.0.0.1" || FAILED=1
kill -TERM -- "-$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null; API_PID=""
[ "$FAILED" = 0 ] && log "sam local tier passed" || log "sam local tier FAILED"
fi

# ---------------------------------------------------------------- 5. the Fargate image
if [[ " $TIERS " == *" container "* ]]; then
  CONTAINER_FAILED=0
  log "stand-in base image local/python:3.13-slim (from the same rootfs)"
  mkdir -p "$W/base"
  cat >"$W/base/Dockerfile" <<'EOS'
FROM public.ecr.aws/lambda/python:3.13-x86_64
RUN chmod 755 /root /root/.pyenv /root/.pyenv/versions \
 && ln -sf /var/lang/bin/python3.13 /usr/local/bin/python3 && ln -sf /var/lang/bin/python3.13 /usr/local/bin/python
WORKDIR /
ENTRYPOINT []
CMD ["python3"]
EOS
  DOCKER_BUILDKIT=0 docker build -q -t local/python:3.13-slim "$W/base" >/dev/null
  log "wheelhouse for the image (.wheels/, x86_64)"
  "$PY" scripts/build_bundle.py .wheels --wheelhouse --platform manylinux2014_x86_64 >"$W/wheels.log" 2>&1 \
    || { tail -5 "$W/wheels.log"; echo "wheelhouse failed"; exit 1; }
  log "docker build (BASE_IMAGE=local/python:3.13-slim; no network in the build)"
  DOCKER_BUILDKIT=0 docker build --build-arg BASE_IMAGE=local/python:3.13-slim -t simple-api:local . \
    >"$W/image.log" 2>&1 || { tail -20 "$W/image.log"; echo "docker build failed"; exit 1; }
  CPORT=$(free_port)
  docker run -d --name simple-api-local --read-only -p "127.0.0.1:$CPORT:8080" -e AWS_DEFAULT_REGION=us-east-1 \
    simple-api:local >/dev/null
  for _ in $(seq 1 60); do
    [ "$(docker inspect -f '{{.State.Health.Status}}' simple-api-local)" = healthy ] && break
    sleep 1
  done
  status=$(docker inspect -f '{{.State.Health.Status}}' simple-api-local)
  user=$(docker exec simple-api-local id -u)
  log "container health: $status; runs as uid $user; image $(docker image inspect -f '{{.Size}}' simple-api:local) bytes"
  [ "$status" = healthy ] || { docker logs simple-api-local 2>&1 | tail -20; CONTAINER_FAILED=1; }
  [ "$user" != 0 ] || { log "the container runs as root"; CONTAINER_FAILED=1; }
  if docker history --no-trunc simple-api:local | grep -qiE 'SECRET_VALUE|LOCAL_SECRET'; then
    log "a secret-looking variable is baked into a layer"; CONTAINER_FAILED=1
  fi
  "$PY" -m pytest tests/contract/test_contract.py --base-url "http://127.0.0.1:$CPORT" --secret absent -q \
    -p no:cacheprovider -o addopts="--allow-hosts=127.0.0.1" || CONTAINER_FAILED=1
  log "hostile-traffic tier against the container (tests/hostile)"
  "$PY" -m pytest tests/hostile --base-url "http://127.0.0.1:$CPORT" -q -p no:cacheprovider -p no:xdist \
    -o addopts="--allow-hosts=127.0.0.1" || CONTAINER_FAILED=1
  docker rm -f simple-api-local >/dev/null
  [ "$CONTAINER_FAILED" = 0 ] && log "container tier passed" || { log "container tier FAILED"; FAILED=1; }
fi

[ "$FAILED" = 0 ] && log "docker tiers passed ($TIERS)" || { log "docker tiers FAILED"; exit 1; }
