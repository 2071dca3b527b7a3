# Shared settings and helpers for the local PostgreSQL and Kafka scripts.
# Sourced, not run. Everything lives under $AR_LOCAL_DIR (default: <repo>/.local),
# which git ignores; every service listens on 127.0.0.1 only.

set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
AR_LOCAL_DIR="${AR_LOCAL_DIR:-$REPO_DIR/.local}"

AR_PG_PORT="${AR_PG_PORT:-54329}"
AR_PG_USER="${AR_PG_USER:-receivables}"
AR_PG_PASSWORD="${AR_PG_PASSWORD:-receivables}"
AR_PG_DB="${AR_PG_DB:-receivables}"

AR_KAFKA_PORT="${AR_KAFKA_PORT:-19092}"
AR_KAFKA_CONTROLLER_PORT="${AR_KAFKA_CONTROLLER_PORT:-19093}"
AR_KAFKA_HEAP="${AR_KAFKA_HEAP:-768m}"

# How long a start may take before it is called a failure, in seconds.
AR_START_TIMEOUT="${AR_START_TIMEOUT:-90}"

say() { printf '%s\n' "$*" >&2; }

# fail SENTENCE [LOGFILE]: one clear sentence naming what failed and the log to read.
fail() {
    if [ $# -ge 2 ] && [ -n "$2" ]; then
        say "error: $1 (read $2)"
        if [ -f "$2" ]; then
            say "--- last lines of $2:"
            tail -n 20 "$2" >&2 || true
        fi
    else
        say "error: $1"
    fi
    exit 1
}

# port_is_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_is_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pid_alive PIDFILE: true when the process named in PIDFILE is running.
pid_alive() {
    [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# as_root_or_sudo CMD...: run a package-manager command, with sudo when not root.
as_root_or_sudo() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        fail "installing packages needs root or sudo: $*"
    fi
}

APT_UPDATED=0
# apt_install PKG...: install Debian packages that are missing; update the lists once.
apt_install() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || fail "packages ${missing[*]} are needed and this machine has no apt-get; install them by hand"
    local log="$AR_LOCAL_DIR/logs/apt.log"
    mkdir -p "$AR_LOCAL_DIR/logs"
    say "installing Debian packages: ${missing[*]}"
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root_or_sudo apt-get update -q >>"$log" 2>&1 || fail "apt-get update failed" "$log"
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive as_root_or_sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1 \
        || fail "apt-get install ${missing[*]} failed" "$log"
}
