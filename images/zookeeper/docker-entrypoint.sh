#!/bin/bash
# Writes zoo.cfg and myid from the official image's variables, then runs ZooKeeper in the
# foreground as PID 1 so `docker stop` reaches the JVM.
set -euo pipefail

if [[ ! -f "$ZOO_CONF_DIR/zoo.cfg" || -n "${ZOO_SERVERS:-}" ]]; then
  {
    echo "dataDir=$ZOO_DATA_DIR"
    echo "dataLogDir=$ZOO_DATA_LOG_DIR"
    echo "tickTime=$ZOO_TICK_TIME"
    echo "initLimit=$ZOO_INIT_LIMIT"
    echo "syncLimit=$ZOO_SYNC_LIMIT"
    echo "maxClientCnxns=$ZOO_MAX_CLIENT_CNXNS"
    echo "standaloneEnabled=$ZOO_STANDALONE_ENABLED"
    echo "admin.enableServer=$ZOO_ADMINSERVER_ENABLED"
    echo "4lw.commands.whitelist=$ZOO_4LW_COMMANDS_WHITELIST"
    echo "autopurge.snapRetainCount=3"
    echo "autopurge.purgeInterval=24"
    # quorumListenOnAllIPs lets a member bind its election port even when its own name
    # resolves to another address first (several networks).
    echo "quorumListenOnAllIPs=true"
    if [[ -z "${ZOO_SERVERS:-}" ]]; then
      echo "clientPort=2181"
    else
      for server in $ZOO_SERVERS; do
        echo "$server"
      done
    fi
  } > "$ZOO_CONF_DIR/zoo.cfg"
  cat > "$ZOO_CONF_DIR/log4j.properties" <<'LOG4J'
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n
LOG4J
fi

if [[ ! -f "$ZOO_DATA_DIR/myid" ]]; then
  echo "${ZOO_MY_ID:-1}" > "$ZOO_DATA_DIR/myid"
fi

if [[ "${1:-}" == "zkServer.sh" && "${2:-}" == "start-foreground" ]]; then
  exec java -Dzookeeper.log.dir="$ZOO_LOG_DIR" \
    -Dlog4j.configuration="file:$ZOO_CONF_DIR/log4j.properties" \
    -XX:+ExitOnOutOfMemoryError ${JVMFLAGS:-} \
    -cp "$ZOO_CONF_DIR:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$ZOO_CONF_DIR/zoo.cfg"
fi
exec "$@"
