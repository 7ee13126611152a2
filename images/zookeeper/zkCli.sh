#!/bin/bash
# ZooKeeper's own command-line client, as `zkCli.sh` of the official image.
exec java -Dlog4j.configuration=file:/usr/local/etc/zkcli-log4j.properties \
  -cp "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar" \
  org.apache.zookeeper.ZooKeeperMain "$@"
