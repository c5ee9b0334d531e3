#!/usr/bin/env bash
# The Docker tiers: prove `sam local invoke` / `sam local start-api` and the Fargate image offline.
#
#   1. `make sam-local-engine` (scripts/docker-engine.sh): a private Docker engine and the stand-in
#      Lambda image, in a folder of this run's; stopped by its PID at exit.
#   2. the README's own lines, as a user types them: `sam build`, `sam local invoke <Fn> -e
#      events/<fixture>.json` for every fixture (checked against events/expected.json), then
#      `sam local start-api` and the contract suite against it. samconfig.toml supplies what they
#      need (skip image pulls, x86_64 - the architecture the stand-in image and a laptop run).
#   3. the Fargate image: a stand-in python:3.13-slim made from the same rootfs, `docker build` of the
#      Dockerfile from a local wheelhouse, the container on 127.0.0.1 until its HEALTHCHECK says
#      healthy, the contract suite and the hostile-traffic tier (tests/hostile) against it.
#
# TIERS selects what runs after the engine starts: "sam-local container" (default), or one of them.
# Exit codes: 0 passed, 1 failed, 77 could not run here (a SKIPPED line says why).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
W=$(mktemp -d /tmp/awscicd-sl.XXXX)   # short: the engine's unix sockets live below it
ENGINE=$W/engine
export PATH=$ROOT/.tools/sam/bin:$PATH   # as the README says
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1
API_PID=""
TIERS=${TIERS:-sam-local container}

free_port() { "$PY" -c 'from host.local import free_port; print(free_port())'; }
skip() { printf '\n*** SKIPPED: sam local tier: %s ***\n\n' "$*"; exit 77; }
log() { printf '[sam-local] %s\n' "$*"; }
readme_line() { grep -m1 -E "^$1" README.md | sed -E 's/[[:space:]]+#.*$//'; }

cleanup() {
  set +e
  if [ -n "$API_PID" ]; then kill -TERM -- "-$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null; fi
  bash scripts/docker-engine.sh stop "$ENGINE" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

# ---------------------------------------------------------------- 1. engine + stand-in image
[ "$(id -u)" = 0 ] || skip "needs root to start a Docker engine (running as uid $(id -u))"
rc=0
ENGINE_ENV=$(make -s sam-local-engine ENGINE_DIR="$ENGINE" 2>"$W/engine.log") || rc=$?
if [ "$rc" != 0 ]; then
  cat "$W/engine.log"
  [ "$rc" = 77 ] || grep -q '\*\*\* SKIPPED' "$W/engine.log" && exit 77
  exit 1
fi
eval "$ENGINE_ENV"
log "engine up: $DOCKER_HOST"

FAILED=0
# ---------------------------------------------------------------- 2. the README's sam local lines
if [[ " $TIERS " == *" sam-local "* ]]; then
INVOKE=$(readme_line 'sam local invoke ')    # e.g. sam local invoke SleepFunction -e events/sleep_hello.json
START_API=$(readme_line 'sam local start-api')
[ -n "$INVOKE" ] && [ -n "$START_API" ] || { echo "the README has no sam local invoke / start-api line"; exit 1; }
log "sam build (as the README says)"
sam build >"$W/build.log" 2>&1 || { tail -20 "$W/build.log"; echo "sam build failed"; exit 1; }
read -r -a words <<<"$INVOKE"
[ "${words[*]:0:3}" = "sam local invoke" ] && [ "${words[4]}" = -e ] && [ ${#words[@]} = 6 ] \
  || { echo "unexpected README invoke line: $INVOKE"; exit 1; }
for event in "${words[5]}" events/*_*.json; do   # the README's own line first, then every fixture
  name=$(basename "$event" .json)
  function=$("$PY" -c "import sys; print(''.join(p.title() for p in sys.argv[1].rsplit('_', 1)[0].split('_')) + 'Function')" "$name")
  if ! sam local invoke "$function" -e "$event" >"$W/$name.out" 2>"$W/$name.err"; then
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

# the README's start-api line as typed; where its port (samconfig: 3000) is taken, the same line with
# a free one
PORT=$("$PY" -c 'import tomllib; print(tomllib.load(open("samconfig.toml", "rb"))["default"]["local_start_api"]["parameters"]["port"])')
if ! "$PY" -c 'import socket, sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$PORT" 2>/dev/null; then
  PORT=$(free_port); START_API="$START_API --port $PORT"
fi
log "$START_API"
setsid $START_API >"$W/start-api.log" 2>&1 &
API_PID=$!
for _ in $(seq 1 180); do
  curl -sf "http://127.0.0.1:$PORT/healthcheck" >/dev/null 2>&1 && break
  kill -0 "$API_PID" 2>/dev/null || break
  sleep 1
done
if ! curl -sf "http://127.0.0.1:$PORT/healthcheck" >/dev/null 2>&1; then
  tail -20 "$W/start-api.log"; echo "sam local start-api did not answer"; exit 1
fi
# sam local serves one request at a time per function: --serial skips what needs concurrency
"$PY" -m pytest tests/contract/test_contract.py --base-url "http://127.0.0.1:$PORT" --secret absent --serial -q \
  -p no:cacheprovider -o addopts="--allow-hosts=127.0.0.1" || FAILED=1
kill -TERM -- "-$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null; API_PID=""
[ "$FAILED" = 0 ] && log "sam local tier passed" || log "sam local tier FAILED"
fi

# ---------------------------------------------------------------- 3. the Fargate image
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
