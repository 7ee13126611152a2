#!/bin/sh
# Starts the inner engine: unix socket for the containers it runs (registrators mount it) and
# TCP 2376 with TLS, client certificates verified (the Docker context's endpoint): a plain TCP
# engine would be root on this host for any process of the machine. svcctl mounts the engine's
# ca.pem, cert.pem and key.pem read-only at /certs.
set -eu

# Without --privileged Docker mounts every cgroup v1 controller read-only, and the inner engine
# cannot create a container's cgroup. The remount is lost at every restart: it belongs here.
awk '$3 == "cgroup" { print $2 }' /proc/mounts | while read -r mountpoint; do
  mount -o remount,rw,bind "$mountpoint" "$mountpoint" 2>/dev/null || true
done

# A crash leaves the previous life's pid files behind; dockerd and containerd refuse to start over them.
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid

for file in ca.pem cert.pem key.pem; do
  if [ ! -r "/certs/$file" ]; then
    echo "svcctl-dind: /certs/$file is missing: start hosts with \`svcctl hosts up\` (it issues the engines' certificates)" >&2
    exit 1
  fi
done

# --bip/--default-address-pool: the inner networks must not overlap the machine's bridges nor
# the hosts' network.
exec dockerd \
  --host=unix:///var/run/docker.sock \
  --host=tcp://0.0.0.0:2376 \
  --tlsverify --tlscacert=/certs/ca.pem --tlscert=/certs/cert.pem --tlskey=/certs/key.pem \
  --bip="${SVCCTL_DIND_BIP:-10.254.0.1/24}" \
  --default-address-pool="base=${SVCCTL_DIND_POOLS:-10.253.0.0/16},size=24" \
  "$@"
