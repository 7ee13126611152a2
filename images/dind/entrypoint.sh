#!/bin/sh
# Starts the inner engine: unix socket for the containers it runs (registrators mount it) and
# TCP 2375 without TLS on the hosts' private bridge network (the Docker context's endpoint).
set -eu

# Without --privileged Docker mounts every cgroup v1 controller read-only, and the inner engine
# cannot create a container's cgroup. The remount is lost at every restart: it belongs here.
awk '$3 == "cgroup" { print $2 }' /proc/mounts | while read -r mountpoint; do
  mount -o remount,rw,bind "$mountpoint" "$mountpoint" 2>/dev/null || true
done

# A crash leaves the previous life's pid files behind; dockerd and containerd refuse to start over them.
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid

# --tls=false: a TCP listener without it waits 15 s on purpose. --bip/--default-address-pool:
# the inner networks must not overlap the machine's bridges nor the hosts' network.
exec dockerd \
  --host=unix:///var/run/docker.sock \
  --host=tcp://0.0.0.0:2375 \
  --tls=false \
  --bip="${SVCCTL_DIND_BIP:-10.254.0.1/24}" \
  --default-address-pool="base=${SVCCTL_DIND_POOLS:-10.253.0.0/16},size=24" \
  "$@"
