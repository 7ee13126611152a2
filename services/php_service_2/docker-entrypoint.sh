#!/bin/sh
# Apache in the foreground of this shell, which relays the stop signal. At its stop signal
# (SIGWINCH: graceful) Apache closes its idle keep-alive connections at once, while a gateway
# still routes to it until the deregistration, made at the same signal, reaches it (50-150 ms):
# a request sent on such a connection as it closes would be lost. So it serves on for a second
# first (a "preStop" delay), then stops gracefully. In the image, so that every orchestrator
# that runs it (Compose, a Swarm service) stops it the same way.
. /etc/apache2/envvars
apache2 -DFOREGROUND "$@" &
pid=$!
trap 'sleep 1; kill -WINCH $pid' WINCH TERM
wait $pid  # returns early when the trap runs
wait $pid
