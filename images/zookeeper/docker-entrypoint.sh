#!/bin/bash
# Writes zoo.cfg and myid from the official image's variables, then runs ZooKeeper in the
# foreground as PID 1 so `docker stop` reaches the JVM.
set -euo pipefail

# Secure mode (ZOO_TLS_SOURCE: the member's PKI directory, mounted read-only): started as root
# only to hand the writable directories to the owner of the keys (svcctl makes that an
# unprivileged uid), then the script runs again as that uid and ZooKeeper reads the keys in
# place: no copy of a key in the container's writable layer.
if [[ -n "${ZOO_TLS_SOURCE:-}" && "$(id -u)" == 0 ]]; then
  owner=$(stat -c %u "$ZOO_TLS_SOURCE/keystore.pem")
  group=$(stat -c %g "$ZOO_TLS_SOURCE/keystore.pem")
  if [[ "$owner" == 0 ]]; then
    echo "svcctl: error: $ZOO_TLS_SOURCE/keystore.pem belongs to root; fix: run \`svcctl cluster up --secure\` (it hands the member keys to an unprivileged uid)" >&2
    exit 1
  fi
  chown -R "$owner:$group" "$ZOO_CONF_DIR" "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR" "$ZOO_LOG_DIR"
  exec setpriv --reuid="$owner" --regid="$group" --clear-groups "$0" "$@"
fi

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
    if [[ -n "${ZOO_TLS_SOURCE:-}" ]]; then
      # TLS-only client port 2181 (Netty) that opens no session without a certificate of the
      # client CA (clientAuth=need, enforce.auth): there is no anonymous session at all. The
      # plain port listens on the container's loopback only, for the healthcheck's four-letter
      # words (no session can open there either: it carries no x509 identity). Quorum traffic
      # is TLS with the quorum CA alone, so no client identity is accepted as a peer; peers are
      # not checked by host name (Docker's reverse names differ from the members').
      pki="$ZOO_TLS_SOURCE"
      protocols="TLSv1.3,TLSv1.2"
      # AEAD suites only (no CBC): TLS 1.3's, then TLS 1.2's ECDHE-RSA GCM/ChaCha20.
      suites="TLS_AES_256_GCM_SHA384,TLS_AES_128_GCM_SHA256,TLS_CHACHA20_POLY1305_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
      echo "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory"
      echo "secureClientPort=2181"
      echo "clientPort=${ZOO_LOOPBACK_PORT:-2180}"
      echo "clientPortAddress=127.0.0.1"
      echo "ssl.keyStore.location=$pki/keystore.pem"
      echo "ssl.keyStore.type=PEM"
      echo "ssl.trustStore.location=$pki/ca.pem"
      echo "ssl.trustStore.type=PEM"
      echo "ssl.clientAuth=need"
      echo "ssl.hostnameVerification=false"
      echo "ssl.protocol=TLSv1.3"
      echo "ssl.enabledProtocols=$protocols"
      echo "ssl.ciphersuites=$suites"
      echo "enforce.auth.enabled=true"
      echo "enforce.auth.schemes=x509"
      echo "sslQuorum=true"
      echo "ssl.quorum.keyStore.location=$pki/quorum.pem"
      echo "ssl.quorum.keyStore.type=PEM"
      echo "ssl.quorum.trustStore.location=$pki/quorum-ca.pem"
      echo "ssl.quorum.trustStore.type=PEM"
      echo "ssl.quorum.hostnameVerification=false"
      echo "ssl.quorum.protocol=TLSv1.3"
      echo "ssl.quorum.enabledProtocols=$protocols"
      echo "ssl.quorum.ciphersuites=$suites"
      for server in $ZOO_SERVERS; do
        echo "${server%%;*}"
      done
    elif [[ -z "${ZOO_SERVERS:-}" ]]; then
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
  # Debian's zookeeper.jar manifest misses three jars the Netty connection factory needs.
  netty=/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar:/usr/share/java/netty-transport-native-unix-common.jar
  security=()
  if [[ -n "${ZOO_TLS_SOURCE:-}" ]]; then
    security=(-Dzookeeper.X509AuthenticationProvider.superUser="${ZOO_SUPER_USER:-CN=svcctl-admin}")
  fi
  exec java -Dzookeeper.log.dir="$ZOO_LOG_DIR" "${security[@]}" \
    -Dlog4j.configuration="file:$ZOO_CONF_DIR/log4j.properties" \
    -XX:+ExitOnOutOfMemoryError ${JVMFLAGS:-} \
    -cp "$ZOO_CONF_DIR:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar:$netty" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$ZOO_CONF_DIR/zoo.cfg"
fi
exec "$@"
