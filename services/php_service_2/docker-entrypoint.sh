#!/bin/sh
# Apache in the foreground as PID 1, so docker stop's signal reaches it directly.
set -e
. /etc/apache2/envvars
exec apache2 -DFOREGROUND "$@"
