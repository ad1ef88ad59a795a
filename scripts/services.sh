#!/usr/bin/env bash
# Local services for development and tests: Redis (Debian's redis-server) and a real search-engine
# node (or a 3-node cluster) started from Maven Central jars by a small launcher (dev/*/src/DevNode.java).
# The engine is OpenSearch 2.19.6 unless ENGINE / --engine says otherwise (docs/ENGINES.md):
#   opensearch-2     OpenSearch 2.19.6       dev/opensearch/      JDK 17-21 (tested 17)   .run/opensearch/PORT/
#   opensearch-3     OpenSearch 3.3.2        dev/opensearch3/     JDK 21+   (tested 25)   .run/opensearch-3/PORT/
#   elasticsearch-7  Elasticsearch 7.17.25   dev/elasticsearch7/  JDK 17-21 (tested 17)   .run/elasticsearch-7/PORT/
#
#   scripts/services.sh install               redis-server if missing; node jars + launcher if not built
#   scripts/services.sh start [options]       start what is not running (reuses what is), wait until ready
#   scripts/services.sh stop  [options]       stop what this script started
#   scripts/services.sh status                show both services
#
# Options (start/stop):
#   --engine E             opensearch-2 (default) | opensearch-3 | elasticsearch-7 (or ENGINE=E);
#                          the flag, like --http-port, leaves Redis alone unless --only redis;
#                          stop without an engine (flag or ENGINE) stops every engine's clusters
#   --nodes N              engine nodes in the cluster (default 1; 3 = a real cluster with replicas)
#   --http-port P          first HTTP port (default: the port of a local OPENSEARCH_URL, else 9200);
#                          node i listens on P+i
#   --transport-port P     first transport port (default: http port + 100); node i on P+i
#   --only opensearch|redis   act on one service only (--http-port alone implies opensearch)
#   --fresh                (start) delete that cluster's data first (only if it is not running)
#   --timeout S            (start) seconds to wait for health (default 180)
#
# Environment: OPENSEARCH_URL / REDIS_URL pointing to another host mean "use my own service":
# start/stop leave that service alone. REDIS_PORT (default: port of a local REDIS_URL, else 6379).
# JDK: ENGINE_JAVA_HOME (used as given, must fit the engine), else the first of OPENSEARCH_JAVA_HOME,
# JAVA_HOME, the JDKs under /usr/lib/jvm (JVM_DIR) and the javac on PATH that fits the engine (its tested major
# version first). Everything lives under .run/ (git-ignored; Redis in .run/redis/ for port 6379, .run/redis-PORT/
# for another); the jars and classes under dev/*/ too.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="$ROOT/.run"

say() { printf '%s\n' "$*"; }
die() { printf 'services.sh: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
secs_since() { local t=$(( $(now_ms) - $1 )); printf "%d.%02d" $((t / 1000)) $(((t % 1000) / 10)); }

# --- engines -------------------------------------------------------------------------------------------

# Sets, for engine $1: OS_DIR (launcher: pom.xml, src/, lib/, classes/), RUN_SUB (its clusters under
# .run/), ENGINE_LABEL, MANAGERS_KEY (the initial-cluster-manager setting), JDK_MIN/JDK_MAX/JDK_TESTED
# (major versions), JDK_WANT (what to tell a user who lacks one).
engine_vars() {
  case "$1" in
    opensearch-2)
      OS_DIR="$ROOT/dev/opensearch"; RUN_SUB=opensearch; ENGINE_LABEL="OpenSearch 2.19.6"
      MANAGERS_KEY=cluster.initial_cluster_manager_nodes; JDK_MIN=17; JDK_MAX=21; JDK_TESTED=17
      JDK_WANT="a JDK 17 to 21 (tested: OpenJDK 17; Debian: apt-get install openjdk-17-jdk-headless, or scripts/services.sh install)" ;;
    opensearch-3)
      OS_DIR="$ROOT/dev/opensearch3"; RUN_SUB=opensearch-3; ENGINE_LABEL="OpenSearch 3.3.2"
      MANAGERS_KEY=cluster.initial_cluster_manager_nodes; JDK_MIN=21; JDK_MAX=99; JDK_TESTED=25
      JDK_WANT="a JDK 21 or newer (tested: Eclipse Temurin 25, /usr/lib/jvm/temurin-25-jdk-amd64; Debian 12 has no such package: install Temurin 25 from Adoptium's apt repository, or set ENGINE_JAVA_HOME)" ;;
    elasticsearch-7)
      OS_DIR="$ROOT/dev/elasticsearch7"; RUN_SUB=elasticsearch-7; ENGINE_LABEL="Elasticsearch 7.17.25"
      MANAGERS_KEY=cluster.initial_master_nodes; JDK_MIN=17; JDK_MAX=21; JDK_TESTED=17
      JDK_WANT="a JDK 17 to 21 (tested: OpenJDK 17; Debian: apt-get install openjdk-17-jdk-headless, or scripts/services.sh install)" ;;
    *) die "unknown engine '$1': ENGINE / --engine takes opensearch-2, opensearch-3 or elasticsearch-7" ;;
  esac
}
ALL_ENGINES=(opensearch-2 opensearch-3 elasticsearch-7)

# The major version of the JDK at $1 (empty if it is no JDK: a JDK has bin/java and bin/javac).
jdk_major() {
  local home="$1" v=""
  [[ -x "$home/bin/java" && -x "$home/bin/javac" ]] || return 0
  if [[ -f "$home/release" ]]; then v="$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "$home/release")"; fi
  [[ -n "$v" ]] || v="$("$home/bin/java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -1)"
  v="${v#1.}"; v="${v%%[.+-]*}"
  [[ "$v" =~ ^[0-9]+$ ]] && printf '%s\n' "$v"
  return 0
}

SEL_JDK=""
# Sets SEL_JDK, JAVA, JAVAC for the current engine, or dies naming the JDK it needs.
find_jdk() {
  [[ -n "${SEL_JDK:-}" ]] && return 0
  local m c seen="" first=""
  if [[ -n "${ENGINE_JAVA_HOME:-}" ]]; then
    m="$(jdk_major "$ENGINE_JAVA_HOME")"
    [[ -n "$m" ]] || die "ENGINE_JAVA_HOME=$ENGINE_JAVA_HOME is not a JDK (no bin/java and bin/javac); $ENGINE_LABEL needs $JDK_WANT"
    (( m >= JDK_MIN && m <= JDK_MAX )) || die "ENGINE_JAVA_HOME=$ENGINE_JAVA_HOME is JDK $m; $ENGINE_LABEL needs $JDK_WANT"
    SEL_JDK="$ENGINE_JAVA_HOME"
  else
    local cands=("${OPENSEARCH_JAVA_HOME:-}" "${JAVA_HOME:-}")
    for c in "${JVM_DIR:-/usr/lib/jvm}"/*; do [[ -L "$c" ]] || cands+=("$c"); done
    command -v javac >/dev/null && cands+=("$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")")
    for c in "${cands[@]}"; do
      [[ -n "$c" ]] || continue
      m="$(jdk_major "$c")"; [[ -n "$m" ]] || continue
      seen+="${seen:+, }$c (JDK $m)"
      (( m >= JDK_MIN && m <= JDK_MAX )) || continue
      if [[ "$m" == "$JDK_TESTED" ]]; then SEL_JDK="$c"; break; fi
      [[ -n "$first" ]] || first="$c"
    done
    SEL_JDK="${SEL_JDK:-$first}"
    [[ -n "$SEL_JDK" ]] || die "$ENGINE_LABEL needs $JDK_WANT; found ${seen:-no JDK} (looked at OPENSEARCH_JAVA_HOME, JAVA_HOME, ${JVM_DIR:-/usr/lib/jvm}/*, javac on PATH; ENGINE_JAVA_HOME=DIR names one)"
  fi
  JAVA="$SEL_JDK/bin/java"; JAVAC="$SEL_JDK/bin/javac"
}

# --- URLs: local or the user's own service -------------------------------------------------------

# Prints "host port" of a URL (port empty if not given).
url_host_port() {
  local rest="${1#*://}"
  rest="${rest#*@}"          # user:pass@
  rest="${rest%%/*}"
  local host port=""
  if [[ "$rest" == \[* ]]; then host="${rest%%]*}]"; rest="${rest#*]}"; port="${rest#:}";
  elif [[ "$rest" == *:* ]]; then host="${rest%%:*}"; port="${rest#*:}";
  else host="$rest"; fi
  printf '%s %s\n' "$host" "$port"
}
redact() { sed 's#//\([^:@/]*\):[^@/]*@#//\1:***@#' <<<"$1"; }
is_local_host() { [[ "$1" == 127.0.0.1 || "$1" == localhost || "$1" == "[::1]" || "$1" == ::1 ]]; }

OS_EXTERNAL=""
OS_URL_GIVEN=0   # a local OPENSEARCH_URL: start a node on its port, or reuse whatever already answers there
if [[ -n "${OPENSEARCH_URL:-}" ]]; then
  OS_URL_GIVEN=1
  read -r h p < <(url_host_port "$OPENSEARCH_URL")
  if is_local_host "$h" && [[ "$OPENSEARCH_URL" == http://* ]]; then DEFAULT_HTTP_PORT="${p:-9200}"; else OS_EXTERNAL="$(redact "$OPENSEARCH_URL")"; fi
fi
DEFAULT_HTTP_PORT="${DEFAULT_HTTP_PORT:-9200}"

REDIS_EXTERNAL=""
if [[ -n "${REDIS_URL:-}" ]]; then
  read -r h p < <(url_host_port "$REDIS_URL")
  if is_local_host "$h" && [[ "$REDIS_URL" == redis://* ]]; then REDIS_PORT="${REDIS_PORT:-${p:-6379}}"; else REDIS_EXTERNAL="$(redact "$REDIS_URL")"; fi
fi
REDIS_PORT="${REDIS_PORT:-6379}"

# --- options ---------------------------------------------------------------------------------------

CMD="${1:-}"; [[ $# -gt 0 ]] && shift
ENGINE_EXPLICIT=0 ENGINE_FLAG=0; [[ -n "${ENGINE:-}" ]] && ENGINE_EXPLICIT=1
ENGINE="${ENGINE:-opensearch-2}"
NODES=1; HTTP_PORT=""; TRANSPORT_PORT=""; ONLY=""; FRESH=0; TIMEOUT=180
while [[ $# -gt 0 ]]; do
  case "$1" in
    --engine) ENGINE="$2"; ENGINE_EXPLICIT=1; ENGINE_FLAG=1; shift 2 ;;
    --nodes) NODES="$2"; shift 2 ;;
    --http-port) HTTP_PORT="$2"; shift 2 ;;
    --transport-port) TRANSPORT_PORT="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --fresh) FRESH=1; shift ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done
engine_vars "$ENGINE"
[[ "$NODES" =~ ^[1-9]$ ]] || die "--nodes must be 1..9, got $NODES"
[[ -z "$ONLY" || "$ONLY" == opensearch || "$ONLY" == redis ]] || die "--only takes opensearch or redis"
EXPLICIT_CLUSTER=0
# --http-port names one OpenSearch cluster: then Redis is left alone unless --only redis says otherwise
if [[ -n "$HTTP_PORT" ]]; then EXPLICIT_CLUSTER=1; ONLY="${ONLY:-opensearch}"; fi
# so does --engine on the command line (the ENGINE variable, a standing choice, does not)
if [[ $ENGINE_FLAG == 1 ]]; then ONLY="${ONLY:-opensearch}"; fi
HTTP_PORT="${HTTP_PORT:-$DEFAULT_HTTP_PORT}"
TRANSPORT_PORT="${TRANSPORT_PORT:-$((HTTP_PORT + 100))}"
want() { [[ -z "$ONLY" || "$ONLY" == "$1" ]]; }

# --- install ----------------------------------------------------------------------------------------

as_root() { if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi; }

install() {
  local pkgs=()
  command -v redis-server >/dev/null || pkgs+=(redis-server)
  # Debian's JDK 17 serves opensearch-2 and elasticsearch-7; opensearch-3's JDK 21+ is not a Debian 12
  # package (find_jdk below names it when it is missing).
  if [[ $JDK_MIN -le 17 ]] && ! ( find_jdk ) >/dev/null 2>&1; then pkgs+=(openjdk-17-jdk-headless); fi
  command -v mvn >/dev/null || pkgs+=(maven)
  if [[ ${#pkgs[@]} -gt 0 ]]; then
    say "installing ${pkgs[*]} (apt-get)"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}"
  fi
  build_launcher
  say "install: redis-server $(redis-server --version | grep -o 'v=[0-9.]*' | cut -c3-), $ENGINE_LABEL launcher ready (JDK $(jdk_major "$SEL_JDK") at $SEL_JDK)"
}

# The engine's jars and launcher, built only when missing or out of date (install and start call it).
build_launcher() {
  find_jdk
  # Node jars: resolved again only when the pom changes.
  local stamp="$OS_DIR/lib/.pom.sha256" sum t
  sum="$(sha256sum "$OS_DIR/pom.xml" | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$sum" ]]; then
    command -v mvn >/dev/null || die "$ENGINE_LABEL jars are not downloaded and maven is missing: run scripts/services.sh install"
    t=$(now_ms)
    rm -rf "$OS_DIR/lib"
    mvn -B -q -Dstyle.color=never -f "$OS_DIR/pom.xml" dependency:copy-dependencies -DoutputDirectory="$OS_DIR/lib" \
      || die "maven could not resolve the $ENGINE_LABEL jars (is Maven Central reachable? see $OS_DIR/pom.xml)"
    printf '%s\n' "$sum" >"$stamp"
    say "$ENGINE_LABEL jars: $(ls "$OS_DIR"/lib/*.jar | wc -l) in $OS_DIR/lib ($(secs_since "$t") s)"
  fi
  # Launcher: compiled again only when its source is newer.
  if [[ ! -f "$OS_DIR/classes/DevNode.class" || "$OS_DIR/src/DevNode.java" -nt "$OS_DIR/classes/DevNode.class" \
        || "$stamp" -nt "$OS_DIR/classes/DevNode.class" ]]; then
    t=$(now_ms)
    rm -rf "$OS_DIR/classes"; mkdir -p "$OS_DIR/classes"
    # --release: the classes run on any JDK the engine accepts, whichever compiled them
    "$JAVAC" -nowarn --release "$JDK_MIN" -d "$OS_DIR/classes" -cp "$OS_DIR/lib/*" "$OS_DIR/src/DevNode.java" \
      || die "could not compile $OS_DIR/src/DevNode.java with $JAVAC"
    say "$ENGINE_LABEL launcher compiled ($(secs_since "$t") s)"
  fi
}

# --- OpenSearch ----------------------------------------------------------------------------------------

cluster_dir() { printf '%s/%s/%s\n' "$RUN" "$RUN_SUB" "$1"; }   # by engine and first HTTP port
alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }
pid_of() { [[ -f "$1" ]] && cat "$1" || true; }
health_json() { curl -sf --max-time 3 "http://127.0.0.1:$1/_cluster/health" 2>/dev/null || true; }
json_field() { grep -o "\"$2\" *: *\"\\{0,1\\}[^,\"}]*" <<<"$1" | head -1 | sed 's/.*[:"] *//' || true; }

show_logs() {
  local dir="$1" n="$2" i
  for ((i = 0; i < n; i++)); do
    printf '\n--- first errors in %s/node-%d.log ---\n' "$dir" "$i" >&2
    grep -m 3 -E ' (ERROR|FATAL) |Exception:' "$dir/node-$i.log" | cut -c1-400 >&2 || true
    printf -- '--- last 30 lines of %s/node-%d.log ---\n' "$dir" "$i" >&2
    tail -n 30 "$dir/node-$i.log" >&2 2>/dev/null || true
  done
}

start_opensearch() {
  if [[ -n "$OS_EXTERNAL" ]]; then say "OpenSearch: OPENSEARCH_URL=$OS_EXTERNAL is not local: not starting a node"; return; fi
  build_launcher
  local dir n i pid running=0 t h e other
  dir="$(cluster_dir "$HTTP_PORT")"
  # another engine's cluster of this script on the same port
  for e in "${ALL_ENGINES[@]}"; do
    [[ "$e" == "$ENGINE" ]] && continue
    other="$( engine_vars "$e"; cluster_dir "$HTTP_PORT" )"
    for ((i = 0; i < NODES; i++)); do
      alive "$(pid_of "$other/node-$i.pid")" && die "port $HTTP_PORT is taken by a local $e cluster ($other); stop it first (scripts/services.sh stop --engine $e --http-port $HTTP_PORT) or use another --http-port"
    done
  done
  if [[ -f "$dir/nodes" ]] && [[ "$(cat "$dir/nodes")" != "$NODES" ]]; then
    for ((i = 0; i < $(cat "$dir/nodes"); i++)); do alive "$(pid_of "$dir/node-$i.pid")" && running=1; done
    [[ $running == 1 ]] && die "a $(cat "$dir/nodes")-node cluster is running on port $HTTP_PORT; stop it first (scripts/services.sh stop --http-port $HTTP_PORT)"
    [[ $FRESH == 1 ]] || die "$dir holds a $(cat "$dir/nodes")-node cluster's data; start with --fresh to discard it"
  fi
  if [[ $FRESH == 1 ]]; then
    for ((i = 0; i < NODES; i++)); do alive "$(pid_of "$dir/node-$i.pid")" && die "--fresh: node-$i on $((HTTP_PORT + i)) is running; stop it first"; done
    rm -rf "$dir"
  fi
  mkdir -p "$dir"; printf '%s\n' "$NODES" >"$dir/nodes"; printf '%s\n' "$ENGINE" >"$dir/engine"

  local heap=1g seeds="" managers="" started=0
  if [[ $NODES -gt 1 ]]; then
    heap=512m
    for ((i = 0; i < NODES; i++)); do seeds+="${seeds:+,}127.0.0.1:$((TRANSPORT_PORT + i))"; managers+="${managers:+,}node-$i"; done
  fi
  t=$(now_ms)
  for ((i = 0; i < NODES; i++)); do
    pid="$(pid_of "$dir/node-$i.pid")"
    if alive "$pid"; then continue; fi
    if [[ -n "$(health_json $((HTTP_PORT + i)))" ]]; then
      if [[ $OS_URL_GIVEN == 1 && $NODES == 1 ]]; then
        say "OpenSearch: something already answers on 127.0.0.1:$HTTP_PORT (OPENSEARCH_URL; not started by this script): reused"
        return
      fi
      die "port $((HTTP_PORT + i)) already answers HTTP like a search engine, but not from a $ENGINE node this script started; stop it, or set OPENSEARCH_URL=http://127.0.0.1:$((HTTP_PORT + i)) to use it, or use another --http-port"
    fi
    local args=("path.home=$dir/node-$i" "node.name=node-$i" "cluster.name=saesplade-dev-$HTTP_PORT"
      "http.port=$((HTTP_PORT + i))" "transport.port=$((TRANSPORT_PORT + i))")
    [[ $NODES -gt 1 ]] && args+=("discovery.seed_hosts=$seeds" "$MANAGERS_KEY=$managers")
    # setsid + nohup: the node outlives this script and the terminal or test runner that started it.
    setsid nohup "$JAVA" "-Xms$heap" "-Xmx$heap" -Dio.netty.noUnsafe=true -Dlog4j2.disable.jmx=true \
      -Dfile.encoding=UTF-8 -Djava.awt.headless=true -cp "$OS_DIR/classes:$OS_DIR/lib/*" \
      DevNode "${args[@]}" >"$dir/node-$i.log" 2>&1 </dev/null &
    printf '%s\n' "$!" >"$dir/node-$i.pid"
    started=$((started + 1))
  done
  [[ $started -gt 0 ]] && say "$ENGINE_LABEL: starting $started of $NODES node(s) (JDK $(jdk_major "$SEL_JDK")) on 127.0.0.1:$HTTP_PORT..$((HTTP_PORT + NODES - 1)) (logs: $dir/node-*.log)"

  # Poll health until the cluster has all its nodes and is green or yellow.
  local deadline=$(( $(now_ms) + TIMEOUT * 1000 )) status nn
  while :; do
    h="$(health_json "$HTTP_PORT")"
    status="$(json_field "$h" status)"; nn="$(json_field "$h" number_of_nodes)"
    if [[ ( "$status" == green || "$status" == yellow ) && "$nn" == "$NODES" ]]; then break; fi
    for ((i = 0; i < NODES; i++)); do
      if ! alive "$(pid_of "$dir/node-$i.pid")"; then
        show_logs "$dir" "$NODES"; die "$ENGINE_LABEL node-$i exited during startup; log: $dir/node-$i.log"
      fi
    done
    if [[ $(now_ms) -gt $deadline ]]; then
      show_logs "$dir" "$NODES"
      die "$ENGINE_LABEL on 127.0.0.1:$HTTP_PORT not healthy after ${TIMEOUT}s (health: ${h:-no answer}); logs: $dir/node-*.log"
    fi
    sleep 0.25
  done
  if [[ $started -gt 0 ]]; then
    say "$ENGINE_LABEL: http://127.0.0.1:$HTTP_PORT $status with $NODES node(s), ready in $(secs_since "$t") s"
  else
    say "$ENGINE_LABEL: http://127.0.0.1:$HTTP_PORT already running ($status, $NODES node(s)): reused"
  fi
}

stop_cluster() {
  local dir="$1" f pid pids=() t
  for f in "$dir"/node-*.pid; do
    [[ -f "$f" ]] || continue
    pid="$(cat "$f")"
    if alive "$pid"; then kill -TERM "$pid"; pids+=("$pid"); fi
    rm -f "$f"
  done
  [[ ${#pids[@]} -eq 0 ]] && return 0
  t=$(now_ms)
  local deadline=$(( $(now_ms) + 30000 ))
  for pid in "${pids[@]}"; do
    while alive "$pid"; do
      if [[ $(now_ms) -gt $deadline ]]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
      sleep 0.2
    done
  done
  say "$(cat "$dir/engine" 2>/dev/null || echo opensearch-2): stopped ${#pids[@]} node(s) of $dir ($(secs_since "$t") s)"
}

stop_opensearch() {
  if [[ -n "$OS_EXTERNAL" && $EXPLICIT_CLUSTER == 0 ]]; then say "OpenSearch: OPENSEARCH_URL=$OS_EXTERNAL is not local: left alone"; return; fi
  local d e
  if [[ $EXPLICIT_CLUSTER == 1 ]]; then
    stop_cluster "$(cluster_dir "$HTTP_PORT")"
  else
    # every cluster of the chosen engine, or of every engine when none was chosen
    for e in "${ALL_ENGINES[@]}"; do
      [[ $ENGINE_EXPLICIT == 1 && "$e" != "$ENGINE" ]] && continue
      for d in "$( engine_vars "$e"; printf '%s/%s' "$RUN" "$RUN_SUB" )"/*/; do [[ -d "$d" ]] && stop_cluster "${d%/}"; done
    done
  fi
  return 0
}

# --- Redis ------------------------------------------------------------------------------------------

# One directory per port, so a second Redis (a test's own, on a spare port) never shares the pid
# file, the config or the AOF of the first: .run/redis/ for 6379 (and for a Redis an older version
# of this script started there on another port), .run/redis-PORT/ otherwise.
REDIS_DIR="$RUN/redis"
if [[ "$REDIS_PORT" != 6379 ]] && ! grep -qx "port $REDIS_PORT" "$REDIS_DIR/redis.conf" 2>/dev/null; then REDIS_DIR="$RUN/redis-$REDIS_PORT"; fi
redis_ping() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning ping 2>/dev/null | grep -q PONG; }

start_redis() {
  if [[ -n "$REDIS_EXTERNAL" ]]; then say "Redis: REDIS_URL=$REDIS_EXTERNAL is not local: not starting redis-server"; return; fi
  command -v redis-server >/dev/null || die "redis-server is not installed: run scripts/services.sh install"
  if alive "$(pid_of "$REDIS_DIR/redis.pid")" && redis_ping; then say "Redis: redis://127.0.0.1:$REDIS_PORT already running: reused"; return; fi
  if redis_ping; then say "Redis: something already answers on 127.0.0.1:$REDIS_PORT (not started by this script): reused"; return; fi
  mkdir -p "$REDIS_DIR"
  cat >"$REDIS_DIR/redis.conf" <<EOF
# written by scripts/services.sh; edits are overwritten on the next start
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize yes
pidfile $REDIS_DIR/redis.pid
logfile $REDIS_DIR/redis.log
dir $REDIS_DIR
appendonly yes
appendfsync everysec
# BullMQ requires that Redis never evicts its keys
maxmemory-policy noeviction
EOF
  local t; t=$(now_ms)
  redis-server "$REDIS_DIR/redis.conf" || { tail -n 20 "$REDIS_DIR/redis.log" >&2 || true; die "redis-server failed to start; log: $REDIS_DIR/redis.log"; }
  local deadline=$(( $(now_ms) + 15000 ))
  until redis_ping; do
    if [[ $(now_ms) -gt $deadline ]]; then tail -n 20 "$REDIS_DIR/redis.log" >&2 || true; die "Redis did not answer PING on 127.0.0.1:$REDIS_PORT; log: $REDIS_DIR/redis.log"; fi
    sleep 0.05
  done
  say "Redis: redis://127.0.0.1:$REDIS_PORT ready in $(secs_since "$t") s (AOF on, data in $REDIS_DIR)"
}

stop_redis() {
  if [[ -n "$REDIS_EXTERNAL" ]]; then say "Redis: REDIS_URL=$REDIS_EXTERNAL is not local: left alone"; return; fi
  local pid; pid="$(pid_of "$REDIS_DIR/redis.pid")"
  alive "$pid" || { rm -f "$REDIS_DIR/redis.pid"; return 0; }
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( $(now_ms) + 15000 ))
  while alive "$pid"; do
    if [[ $(now_ms) -gt $deadline ]]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
    sleep 0.1
  done
  rm -f "$REDIS_DIR/redis.pid"
  say "Redis: stopped"
}

# --- status -------------------------------------------------------------------------------------------

status() {
  local ok=0 d n i pid url root h ver
  # OpenSearch: the configured URL, plus every cluster this script started.
  local raw="${OPENSEARCH_URL:-http://127.0.0.1:$DEFAULT_HTTP_PORT}"; url="$(redact "$raw")"; raw="${raw%/}"
  root="$(curl -sf --max-time 3 "$raw/" 2>/dev/null || true)"
  if [[ -n "$root" ]]; then
    h="$(curl -sf --max-time 3 "$raw/_cluster/health" 2>/dev/null || true)"
    ver="$(json_field "$root" distribution)"
    say "OpenSearch $url: up, ${ver:-elasticsearch} $(json_field "$root" number), cluster $(json_field "$h" status) with $(json_field "$h" number_of_nodes) node(s)"
  else
    say "OpenSearch $url: DOWN (start it with scripts/services.sh start)"; ok=1
  fi
  local e
  local dirs=() sub
  for e in "${ALL_ENGINES[@]}"; do
    sub="$( engine_vars "$e"; printf '%s' "$RUN_SUB" )"
    for d in "$RUN/$sub"/*/; do [[ -d "$d" ]] && dirs+=("$d"); done
  done
  for d in ${dirs[@]+"${dirs[@]}"}; do
    [[ -f "$d/nodes" ]] || continue
    e="$(cat "$d/engine" 2>/dev/null || echo opensearch-2)"
    n="$(cat "$d/nodes")"; ver=""
    for ((i = 0; i < n; i++)); do
      pid="$(pid_of "$d/node-$i.pid")"
      alive "$pid" && ver+="${ver:+, }node-$i :$(( $(basename "$d") + i )) pid $pid"
    done
    say "  local $e cluster ${d%/} ($n node(s)): ${ver:-stopped}"
  done
  url="$(redact "${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}")"
  if [[ -n "$REDIS_EXTERNAL" ]]; then
    if redis-cli -u "$REDIS_URL" --no-auth-warning ping 2>/dev/null | grep -q PONG; then say "Redis $url: up (PONG)"; else say "Redis $url: DOWN"; ok=1; fi
  elif redis_ping; then
    ver="$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info server 2>/dev/null | grep -o 'redis_version:[0-9.]*' | cut -d: -f2)"
    pid="$(pid_of "$REDIS_DIR/redis.pid")"
    say "Redis $url: up (PONG), version $ver${pid:+, pid $pid}, AOF $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" config get appendonly 2>/dev/null | tail -1)"
  else
    say "Redis $url: DOWN (start it with scripts/services.sh start)"; ok=1
  fi
  return $ok
}

case "$CMD" in
  install) install ;;
  start) want redis && start_redis; want opensearch && start_opensearch; true ;;
  stop) want opensearch && stop_opensearch; want redis && stop_redis; true ;;
  status) status ;;
  *) die "usage: scripts/services.sh install|start|stop|status [--engine opensearch-2|opensearch-3|elasticsearch-7] [--nodes N] [--http-port P] [--only opensearch|redis] (see --help)" ;;
esac
