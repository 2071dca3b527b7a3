#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft: broker and controller in one process) on
# 127.0.0.1:$AR_KAFKA_PORT, data in $AR_LOCAL_DIR/kafka.
# Usage: deploy/local/kafka.sh start|stop|status|bootstrap
# Debian has no Kafka package and the machine has no Docker engine, so the broker's jars
# and their runtime dependencies come from Maven Central (deploy/kafka/pom.xml) into a
# local cache, and the JVM runs kafka.Kafka directly.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KAFKA_DIR="$AR_LOCAL_DIR/kafka"
KAFKA_JARS="$KAFKA_DIR/jars"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_CONFIG="$KAFKA_DIR/server.properties"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$AR_LOCAL_DIR/logs/kafka.log"
KAFKA_POM="$REPO_DIR/deploy/kafka/pom.xml"

require_java() {
    command -v java >/dev/null || apt_install openjdk-17-jre-headless
    command -v java >/dev/null || fail "no java on PATH; Kafka needs Java 17 or newer"
    local major
    major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
    [ "${major%%.*}" -ge 17 ] 2>/dev/null || fail "Kafka needs Java 17 or newer; java on PATH is version $major"
}

fetch_jars() {
    # The stamp names the pom's checksum, so editing the pom fetches again.
    local stamp="$KAFKA_JARS/.pom.sha256"
    local sum
    sum=$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
        return 0
    fi
    command -v mvn >/dev/null || apt_install maven
    local log="$AR_LOCAL_DIR/logs/kafka-maven.log"
    say "fetching the Kafka broker jars with Maven (first start only)"
    rm -rf "$KAFKA_JARS"
    mkdir -p "$KAFKA_JARS"
    mvn -B -q -f "$KAFKA_POM" dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$KAFKA_JARS" >"$log" 2>&1 \
        || fail "Maven could not fetch the Kafka jars" "$log"
    ls "$KAFKA_JARS"/kafka_2.13-*.jar >/dev/null 2>&1 || fail "Maven ran but no kafka_2.13 jar arrived in $KAFKA_JARS" "$log"
    printf '%s' "$sum" >"$stamp"
}

write_config() {
    mkdir -p "$KAFKA_DATA"
    cat >"$KAFKA_CONFIG" <<CONF
# Written by deploy/local/kafka.sh; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$AR_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$AR_KAFKA_PORT,CONTROLLER://127.0.0.1:$AR_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$AR_KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=6
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.hours=-1
CONF
    cat >"$KAFKA_DIR/log4j.properties" <<CONF
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
CONF
}

JVM_OPTS=("-Xmx$AR_KAFKA_HEAP" "-Xms$AR_KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$KAFKA_DIR/log4j.properties" -cp "$KAFKA_JARS/*")

format_storage() {
    [ -f "$KAFKA_DATA/meta.properties" ] && return 0
    local cluster_id
    cluster_id=$(java "${JVM_OPTS[@]}" kafka.tools.StorageTool random-uuid 2>>"$KAFKA_LOG" | tail -n 1)
    [ -n "$cluster_id" ] || fail "Kafka's StorageTool could not make a cluster id" "$KAFKA_LOG"
    java "${JVM_OPTS[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_CONFIG" >>"$KAFKA_LOG" 2>&1 \
        || fail "Kafka's StorageTool could not format $KAFKA_DATA" "$KAFKA_LOG"
}

# broker_answers: the broker lists its metadata (a real client request, not just an open port).
broker_answers() {
    if command -v kcat >/dev/null; then
        kcat -L -b "127.0.0.1:$AR_KAFKA_PORT" -m 3 >/dev/null 2>&1
    else
        port_is_open "$AR_KAFKA_PORT"
    fi
}

start() {
    mkdir -p "$KAFKA_DIR" "$AR_LOCAL_DIR/logs"
    if pid_alive "$KAFKA_PID"; then
        say "Kafka already running on 127.0.0.1:$AR_KAFKA_PORT"
        return 0
    fi
    for port in "$AR_KAFKA_PORT" "$AR_KAFKA_CONTROLLER_PORT"; do
        port_is_open "$port" && fail "port $port on 127.0.0.1 is taken by another program; set AR_KAFKA_PORT / AR_KAFKA_CONTROLLER_PORT to free ports"
    done
    require_java
    apt_install kcat
    fetch_jars
    write_config
    : >"$KAFKA_LOG"
    format_storage
    # setsid keeps the broker out of the caller's process group (a Ctrl-C in make does not
    # take it down); without job control it execs in place, so $! is the JVM's own pid.
    setsid java "${JVM_OPTS[@]}" kafka.Kafka "$KAFKA_CONFIG" >>"$KAFKA_LOG" 2>&1 </dev/null &
    echo $! >"$KAFKA_PID"
    local waited=0
    until broker_answers; do
        pid_alive "$KAFKA_PID" || fail "Kafka exited while starting" "$KAFKA_LOG"
        [ "$waited" -ge "$AR_START_TIMEOUT" ] && { stop >/dev/null 2>&1 || true; fail "Kafka did not answer within ${AR_START_TIMEOUT}s" "$KAFKA_LOG"; }
        sleep 1
        waited=$((waited + 1))
    done
    say "Kafka running on 127.0.0.1:$AR_KAFKA_PORT (log $KAFKA_LOG)"
}

stop() {
    if ! pid_alive "$KAFKA_PID"; then
        rm -f "$KAFKA_PID"
        say "Kafka not running"
        return 0
    fi
    local pid waited=0
    pid=$(cat "$KAFKA_PID")
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$waited" -ge 60 ]; then
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 1
        waited=$((waited + 1))
    done
    rm -f "$KAFKA_PID"
    say "Kafka stopped"
}

status() {
    if pid_alive "$KAFKA_PID" && broker_answers; then
        say "Kafka running on 127.0.0.1:$AR_KAFKA_PORT (pid $(cat "$KAFKA_PID"))"
    else
        say "Kafka not running"
        return 3
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    bootstrap) printf '127.0.0.1:%s\n' "$AR_KAFKA_PORT" ;;
    *) say "usage: $0 start|stop|status|bootstrap"; exit 2 ;;
esac
