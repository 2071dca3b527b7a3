#!/usr/bin/env bash
# Start, stop or report on every local service the integration tests need:
# PostgreSQL and Apache Kafka on 127.0.0.1 (and kcat, the client the tests use).
# Usage: deploy/local/services.sh up|down|status
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
here="$(dirname "${BASH_SOURCE[0]}")"

case "${1:-}" in
    up)
        "$here/postgres.sh" start
        "$here/kafka.sh" start
        ;;
    down)
        "$here/kafka.sh" stop
        "$here/postgres.sh" stop
        ;;
    status)
        rc=0
        "$here/postgres.sh" status || rc=$?
        "$here/kafka.sh" status || rc=$?
        exit "$rc"
        ;;
    *) say "usage: $0 up|down|status"; exit 2 ;;
esac
