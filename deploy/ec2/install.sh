#!/usr/bin/env bash
# Install this application bundle on an instance and (re)start the service. Run as root from the
# unpacked bundle; cfn-init runs it on EC2, and the ec2 boot tier runs it in a local Debian root
# filesystem. Idempotent: each bundle version goes to its own release folder, `current` moves last.
#
#   PYTHON   interpreter for the virtualenv (default python3.13)
#   PREFIX   install root (default /opt/simple-api)
set -euo pipefail
BUNDLE=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${PYTHON:-python3.13}
PREFIX=${PREFIX:-/opt/simple-api}
APP_USER=simple-api
VERSION=$(cat "$BUNDLE/VERSION")
RELEASE=$PREFIX/releases/$VERSION

# hermetic pip: only the bundle's wheels, whatever the machine's pip configuration says
while read -r variable; do unset "$variable"; done < <(compgen -e | grep '^PIP_' || true)
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1

id -u "$APP_USER" >/dev/null 2>&1 \
  || useradd --system --user-group --home-dir "$PREFIX" --no-create-home --shell /usr/sbin/nologin "$APP_USER"
mkdir -p "$RELEASE" /var/log/simple-api /etc/simple-api
cp -r "$BUNDLE/host" "$BUNDLE/functions" "$BUNDLE/layers" "$BUNDLE/template.yaml" "$BUNDLE/deploy" "$RELEASE/"
"$PYTHON" -m venv --clear "$RELEASE/venv"
"$RELEASE/venv/bin/pip" install --quiet --no-index --find-links "$BUNDLE/wheels" --require-hashes \
  -r "$BUNDLE/requirements.txt"
chown -R root:root "$RELEASE"
chown "$APP_USER:$APP_USER" /var/log/simple-api
ln -sfn "$RELEASE" "$PREFIX/current.new" && mv -T "$PREFIX/current.new" "$PREFIX/current"
install -m 0644 "$BUNDLE/deploy/ec2/simple-api.service" /etc/systemd/system/simple-api.service
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable simple-api
  systemctl restart simple-api
else
  echo "install.sh: no systemd here; the unit is installed, start its ExecStart yourself"
fi
echo "install.sh: simple-api $VERSION installed in $RELEASE"
