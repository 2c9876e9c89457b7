#!/bin/bash
# swarmhook custom data v1: installs Docker and the node agent, then starts the agent.
# The template fills in the @…@ settings; nothing here is a secret (the VM reads its
# join token from Key Vault with its own identity, only when the functions ask it to).
set -eu
home=${SWARMHOOK_HOME:-/var/lib/swarmhook}
if ! command -v docker >/dev/null 2>&1; then
  apt-get update -q && apt-get install -y -q docker.io python3 curl
  systemctl enable --now docker
fi
install -d -m 0700 "$home"
cat > "$home/agent.env" <<'SETTINGS'
SWARMHOOK_QUEUE_ENDPOINT=@QUEUE_ENDPOINT@
SWARMHOOK_BLOB_ENDPOINT=@BLOB_ENDPOINT@
SWARMHOOK_CONTAINER=@CONTAINER@
SWARMHOOK_READY_QUEUE=@READY_QUEUE@
SWARMHOOK_LEAVING_QUEUE=@LEAVING_QUEUE@
SWARMHOOK_CLIENT_ID=@CLIENT_ID@
SETTINGS
base64 -d > "$home/agent.py" <<'AGENT'
@AGENT_BASE64@
AGENT
if [ -z "${SWARMHOOK_FOREGROUND:-}" ] && [ -d /run/systemd/system ]; then
  cat > /etc/systemd/system/swarmhook-agent.service <<UNIT
[Unit]
Description=swarmhook node agent
After=docker.service network-online.target
Wants=docker.service
[Service]
EnvironmentFile=$home/agent.env
ExecStart=/usr/bin/python3 $home/agent.py
Restart=always
RestartSec=5
[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now swarmhook-agent
else
  set -a; . "$home/agent.env"; set +a
  exec python3 "$home/agent.py"
fi
