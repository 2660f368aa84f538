#!/usr/bin/env bash
# Real servers for snapcron's integration tests, as plain processes on 127.0.0.1:
#   etcd           Debian etcd-server (+ etcd-client for etcdctl)   client :12379, peer :12380
#   S3             s3proxy jar-with-dependencies, filesystem store   :19000
#   Elasticsearch  integration-test zip, single node, security off   http :19200, transport :19300
#   OpenSearch     integration-test zip + repository-s3 (S3 client on s3proxy), no security
#                                                                    http :19201, transport :19301
# Installs what is missing (Debian packages with apt-get, jars and zips with Maven) and caches
# downloads in ${SNAPCRON_CACHE:-$HOME/.cache/snapcron}/services; runtime state (data, pid files,
# logs) lives in ${SNAPCRON_SERVICES_DIR:-/tmp/snapcron-services}.
#
# Checked here on 2026-11-25 (Debian 12, 2 cores):
#   Elasticsearch 9.5.4 on Temurin 25.0.3 works. Maven Central carries integ-test zips for only
#   some patch releases: 9.6.0, 9.5.7, 9.5.6 and 9.5.5 did not resolve; 9.5.4, 9.5.0, 9.1.0 and
#   8.19.21 do. 9.x needs Java 21+, so with only Java 17 the 8.19 line is used.
#   s3proxy 4.1.0 on Temurin 25.0.3; etcd 3.4.23 (Debian bookworm).
#   OpenSearch 3.6.0 on Temurin 25.0.3 works, its repository-s3 3.6.0 writing into s3proxy.
#   Maven Central's metadata lists integ-test zips 2.0.0-2.19.6 and 3.6.0 only (3.8.0, 3.7.0
#   and 3.5.0 do not resolve). No repository-s3 *plugin zip* resolves at all: 3.1.0-3.8.0 have
#   just pom, jar and Gradle module, 2.x not even a pom. So the plugin zip is assembled here
#   from the plugin jar, the runtime dependencies its pom lists (less the jars the
#   distribution's lib/ already has), a plugin-descriptor.properties and a
#   plugin-security.policy, and installed with `opensearch-plugin install --batch file://...`
#   like a published one (which is used instead whenever it resolves). 3.x needs Java 21+;
#   with only Java 17 there is no OpenSearch (2.x lacks the plugin; untested).
#   `up opensearch` took 96 s cold (empty cache: 160 MB zip, ~40 MB of plugin jars) and
#   25-40 s warm; a warm `up` of all four took 42-54 s against 28 s for the other three (load
#   4-6 from other work), so OpenSearch is in the default set.
#
# Usage: scripts/services.sh up|down|status [etcd|s3|es|opensearch ...]   (none: all four)
#        eval "$(scripts/services.sh env)"
# Overrides: SNAPCRON_ES_VERSION, SNAPCRON_OPENSEARCH_VERSION (one version each),
#   SNAPCRON_ES_JAVA_HOME, SNAPCRON_OPENSEARCH_JAVA_HOME,
#   SNAPCRON_{ETCD,S3,ES,OPENSEARCH}_TIMEOUT.
set -euo pipefail

CACHE="${SNAPCRON_CACHE:-$HOME/.cache/snapcron}/services"
RUN="${SNAPCRON_SERVICES_DIR:-/tmp/snapcron-services}"
M2="$CACHE/m2"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

ETCD_PORT=12379
ETCD_PEER_PORT=12380
S3_PORT=19000
ES_PORT=19200
ES_TRANSPORT_PORT=19300
OS_PORT=19201
OS_TRANSPORT_PORT=19301

S3_ACCESS_KEY="snapcron-test"
S3_SECRET_KEY="snapcron-test-secret"
S3_REGION="us-east-1"
ES_USER="snapcron-es" # also runs OpenSearch

# Newest first; the first that resolves (and whose Java need is met) wins.
ES9_VERSIONS=(9.5.4 9.5.0 9.1.0)
ES8_VERSIONS=(8.19.21 8.19.4)
S3PROXY_VERSIONS=(4.1.0 4.0.0 3.3.0)
# Both the integ-test zip and repository-s3 (zip, or jar to assemble one) must resolve.
OS_VERSIONS=(3.6.0)

# Seconds to wait for each server to answer once started.
ETCD_TIMEOUT="${SNAPCRON_ETCD_TIMEOUT:-30}"
S3_TIMEOUT="${SNAPCRON_S3_TIMEOUT:-60}"
ES_TIMEOUT="${SNAPCRON_ES_TIMEOUT:-240}"
OS_TIMEOUT="${SNAPCRON_OPENSEARCH_TIMEOUT:-240}"

ALL_SERVICES=(etcd s3 es opensearch)

say() { printf 'services: %s\n' "$*" >&2; }

fail() {
  say "error: $*"
  exit 1
}

# Prints the canonical service name for a user-given one.
canonical() {
  case "$1" in
    etcd) echo etcd ;;
    s3 | s3proxy) echo s3 ;;
    es | elasticsearch) echo es ;;
    opensearch | os) echo opensearch ;;
    *)
      say "unknown service \"$1\": expected etcd, s3, es or opensearch"
      exit 2
      ;;
  esac
}

label() {
  case "$1" in
    etcd) echo "etcd" ;;
    s3) echo "s3proxy" ;;
    es) echo "Elasticsearch" ;;
    opensearch) echo "OpenSearch" ;;
  esac
}

url_of() {
  case "$1" in
    etcd) echo "http://127.0.0.1:$ETCD_PORT" ;;
    s3) echo "http://127.0.0.1:$S3_PORT" ;;
    es) echo "http://127.0.0.1:$ES_PORT" ;;
    opensearch) echo "http://127.0.0.1:$OS_PORT" ;;
  esac
}

# Every port the service listens on.
ports_of() {
  case "$1" in
    etcd) echo "$ETCD_PORT $ETCD_PEER_PORT" ;;
    s3) echo "$S3_PORT" ;;
    es) echo "$ES_PORT $ES_TRANSPORT_PORT" ;;
    opensearch) echo "$OS_PORT $OS_TRANSPORT_PORT" ;;
  esac
}

pid_file() { echo "$RUN/$1.pid"; }
log_file() { echo "$RUN/$1.log"; }

# The pid recorded by `up`, if that process is still alive and still the server (a stale pid
# file must not make `down` signal an unrelated process that reused the pid).
live_pid() {
  local file pid marker
  file="$(pid_file "$1")"
  [ -f "$file" ] || return 1
  pid="$(cat "$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  case "$1" in
    etcd) marker="etcd" ;;
    s3) marker="s3proxy" ;;
    es) marker="elasticsearch" ;;
    opensearch) marker="opensearch" ;;
  esac
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$marker" || return 1
  echo "$pid"
}

port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

healthy() {
  case "$1" in
    etcd)
      curl -sf -m 3 -X POST -d '{}' "http://127.0.0.1:$ETCD_PORT/v3/maintenance/status" >/dev/null
      ;;
    s3)
      # Any HTTP answer will do: anonymous requests get an S3 error document.
      local code
      code="$(curl -s -m 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/" || true)"
      [ -n "$code" ] && [ "$code" != "000" ]
      ;;
    es)
      curl -sf -m 15 "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=10s" \
        >/dev/null
      ;;
    opensearch)
      curl -sf -m 15 "http://127.0.0.1:$OS_PORT/_cluster/health?wait_for_status=yellow&timeout=10s" \
        >/dev/null
      ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Installing

# apt-get runs under one lock so that parallel installers wait for each other, and `apt-get
# update` runs at most once per `up`, and only when something is missing.
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  (
    flock 9
    local log="$CACHE/apt.log"
    if [ ! -e "$STATE/apt-updated" ]; then
      say "apt-get update (to install ${missing[*]})"
      apt-get update -qq >"$log" 2>&1 || {
        tail -n 20 "$log" >&2
        fail "apt-get update failed; log: $log"
      }
      touch "$STATE/apt-updated"
    fi
    say "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      -o DPkg::Lock::Timeout=300 "${missing[@]}" >>"$log" 2>&1 || {
      tail -n 20 "$log" >&2
      fail "apt-get install ${missing[*]} failed; log: $log"
    }
  ) 9>"$CACHE/apt.lock"
}

# Java major version of a java binary, or nothing.
java_major() {
  "$1" -version 2>&1 | sed -nE '1s/.*version "(1\.)?([0-9]+).*/\2/p'
}

# Prints the JAVA_HOME of the newest JDK/JRE under /usr/lib/jvm with at least the given major.
pick_java_home() {
  local min="$1" best="" best_major=0 dir real major
  declare -A seen=()
  for dir in /usr/lib/jvm/*/; do
    dir="${dir%/}"
    [ -x "$dir/bin/java" ] || continue
    real="$(readlink -f "$dir")"
    [ -z "${seen[$real]:-}" ] || continue
    seen[$real]=1
    major="$(java_major "$dir/bin/java" || true)"
    [[ "$major" =~ ^[0-9]+$ ]] || continue
    if [ "$major" -ge "$min" ] && [ "$major" -gt "$best_major" ]; then
      best="$real"
      best_major="$major"
    fi
  done
  [ -n "$best" ] || return 1
  echo "$best"
}

ensure_java17() {
  pick_java_home 17 >/dev/null && return 0
  apt_install default-jre-headless
  pick_java_home 17 >/dev/null || fail "no Java 17+ under /usr/lib/jvm, even after installing default-jre-headless"
}

ensure_tools() {
  local pkgs=()
  command -v curl >/dev/null || pkgs+=(curl)
  command -v unzip >/dev/null || pkgs+=(unzip)
  [ "${#pkgs[@]}" -eq 0 ] || apt_install "${pkgs[@]}"
}

ensure_maven() {
  ensure_java17
  command -v mvn >/dev/null || apt_install maven
}

# Resolves GROUP:ARTIFACT:VERSION:TYPE[:CLASSIFIER] into the cache's Maven repository. Maven runs
# one at a time: its local repository is not safe for concurrent writers.
mvn_get() {
  local coords="$1" log="$2"
  (
    flock 9
    mvn -B -q -Dmaven.repo.local="$M2" "$DEP_PLUGIN:get" -Dartifact="$coords" -Dtransitive=false \
      >"$log" 2>&1
  ) 9>"$CACHE/mvn.lock"
}

# Prints the path of the s3proxy jar, downloading the newest version that resolves.
fetch_s3proxy() {
  local v jar log
  for v in "${S3PROXY_VERSIONS[@]}"; do
    jar="$M2/org/gaul/s3proxy/$v/s3proxy-$v-jar-with-dependencies.jar"
    [ -f "$jar" ] && { echo "$jar"; return 0; }
  done
  ensure_maven
  for v in "${S3PROXY_VERSIONS[@]}"; do
    jar="$M2/org/gaul/s3proxy/$v/s3proxy-$v-jar-with-dependencies.jar"
    log="$CACHE/mvn-s3proxy-$v.log"
    say "downloading s3proxy $v with Maven"
    if mvn_get "org.gaul:s3proxy:$v:jar:jar-with-dependencies" "$log" && [ -f "$jar" ]; then
      echo "$jar"
      return 0
    fi
    say "s3proxy $v did not resolve (see $log); trying an older version"
  done
  fail "no s3proxy version in (${S3PROXY_VERSIONS[*]}) resolved with Maven; see $CACHE/mvn-s3proxy-*.log"
}

es_zip() {
  echo "$M2/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$1/elasticsearch-$1.zip"
}

# Prints the Elasticsearch version to run: the newest 9.x that resolves when Java 21+ is here,
# else the newest 8.x. SNAPCRON_ES_VERSION forces one version.
fetch_es() {
  local candidates=() v log
  if [ -n "${SNAPCRON_ES_VERSION:-}" ]; then
    candidates=("$SNAPCRON_ES_VERSION")
  elif pick_java_home 21 >/dev/null; then
    candidates=("${ES9_VERSIONS[@]}" "${ES8_VERSIONS[@]}")
  else
    say "no Java 21+ under /usr/lib/jvm: using Elasticsearch 8.x (9.x needs Java 21)"
    candidates=("${ES8_VERSIONS[@]}")
  fi
  for v in "${candidates[@]}"; do
    [ -f "$(es_zip "$v")" ] && { echo "$v"; return 0; }
  done
  ensure_maven
  for v in "${candidates[@]}"; do
    log="$CACHE/mvn-elasticsearch-$v.log"
    say "downloading Elasticsearch $v integ-test zip with Maven"
    if mvn_get "org.elasticsearch.distribution.integ-test-zip:elasticsearch:$v:zip" "$log" &&
      [ -f "$(es_zip "$v")" ]; then
      echo "$v"
      return 0
    fi
    say "Elasticsearch $v did not resolve (see $log); trying the next one down"
  done
  fail "no Elasticsearch version in (${candidates[*]}) resolved with Maven; see $CACHE/mvn-elasticsearch-*.log"
}

ensure_es_user() {
  id -u "$ES_USER" >/dev/null 2>&1 && return 0
  say "creating system user $ES_USER (Elasticsearch refuses to run as root)"
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$ES_USER" 2>/dev/null || id -u "$ES_USER" >/dev/null
}

os_zip() {
  echo "$M2/org/opensearch/distribution/integ-test-zip/opensearch/$1/opensearch-$1.zip"
}

os_plugin_base() {
  echo "$M2/org/opensearch/plugin/repository-s3/$1/repository-s3-$1"
}

# Whether repository-s3 of this version is here: the published zip, or the jar (and pom) to
# assemble one from.
os_plugin_cached() {
  local base
  base="$(os_plugin_base "$1")"
  [ -f "$base.zip" ] || { [ -f "$base.jar" ] && [ -f "$base.pom" ]; }
}

# Prints the OpenSearch version to run: the newest whose integ-test zip and repository-s3
# resolve. SNAPCRON_OPENSEARCH_VERSION forces one version.
fetch_opensearch() {
  local candidates=() v log
  if [ -n "${SNAPCRON_OPENSEARCH_VERSION:-}" ]; then
    candidates=("$SNAPCRON_OPENSEARCH_VERSION")
  else
    candidates=("${OS_VERSIONS[@]}")
  fi
  for v in "${candidates[@]}"; do
    [ -f "$(os_zip "$v")" ] && os_plugin_cached "$v" && { echo "$v"; return 0; }
  done
  ensure_maven
  for v in "${candidates[@]}"; do
    log="$CACHE/mvn-opensearch-$v.log"
    if [ ! -f "$(os_zip "$v")" ]; then
      say "downloading OpenSearch $v integ-test zip with Maven"
      if ! mvn_get "org.opensearch.distribution.integ-test-zip:opensearch:$v:zip" "$log" ||
        [ ! -f "$(os_zip "$v")" ]; then
        say "OpenSearch $v did not resolve (see $log); trying the next one down"
        continue
      fi
    fi
    os_plugin_cached "$v" && { echo "$v"; return 0; }
    log="$CACHE/mvn-opensearch-repository-s3-$v.log"
    say "downloading OpenSearch repository-s3 $v with Maven"
    mvn_get "org.opensearch.plugin:repository-s3:$v:zip" "$log" ||
      mvn_get "org.opensearch.plugin:repository-s3:$v:jar" "$log" || true
    os_plugin_cached "$v" && { echo "$v"; return 0; }
    say "OpenSearch repository-s3 $v resolved neither as zip nor as jar (see $log); trying the next one down"
  done
  fail "no OpenSearch version in (${candidates[*]}) resolved with Maven together with repository-s3; see $CACHE/mvn-opensearch-*.log"
}

# Prints the path of an installable repository-s3 plugin zip for the OpenSearch unpacked in
# $2: the published zip when Maven has it, else one assembled (and cached) from the plugin jar
# and its runtime dependencies. Jars that the distribution's lib/ already holds are left out, as
# the published zips do (OpenSearch refuses a plugin whose classes shadow the server's).
os_plugin_zip() {
  local version="$1" home="$2" base out work jar artifact java_version log
  base="$(os_plugin_base "$version")"
  [ -f "$base.zip" ] && { echo "$base.zip"; return 0; }
  out="$CACHE/opensearch/repository-s3-$version-assembled.zip"
  [ -f "$out" ] && { echo "$out"; return 0; }
  say "assembling the repository-s3 $version plugin zip from its jar and dependencies"
  command -v zip >/dev/null || apt_install zip
  work="$CACHE/opensearch/build-$version"
  log="$CACHE/mvn-opensearch-repository-s3-deps-$version.log"
  rm -rf "$work"
  mkdir -p "$work/deps" "$work/plugin"
  cat >"$work/pom.xml" <<XML
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>snapcron.test</groupId>
  <artifactId>opensearch-repository-s3-bundle</artifactId>
  <version>$version</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.opensearch.plugin</groupId>
      <artifactId>repository-s3</artifactId>
      <version>$version</version>
    </dependency>
  </dependencies>
</project>
XML
  # The repository layout names each jar's artifactId: deps/GROUP/ARTIFACT/VERSION/FILE.
  (
    flock 9
    mvn -B -q -Dmaven.repo.local="$M2" -f "$work/pom.xml" "$DEP_PLUGIN:copy-dependencies" \
      -DincludeScope=runtime -Dmdep.useRepositoryLayout=true -DoutputDirectory="$work/deps" \
      >"$log" 2>&1
  ) 9>"$CACHE/mvn.lock" || {
    tail -n 20 "$log" >&2
    fail "could not resolve the dependencies of repository-s3 $version; log: $log"
  }
  while IFS= read -r jar; do
    artifact="$(basename "$(dirname "$(dirname "$jar")")")"
    if compgen -G "$home/lib/$artifact-[0-9]*.jar" >/dev/null; then continue; fi
    cp "$jar" "$work/plugin/"
  done < <(find "$work/deps" -name '*.jar' | sort)
  [ -f "$work/plugin/repository-s3-$version.jar" ] ||
    fail "repository-s3-$version.jar missing from its own dependency set; log: $log"
  unzip -l "$work/plugin/repository-s3-$version.jar" \
    org/opensearch/repositories/s3/S3RepositoryPlugin.class >/dev/null 2>&1 ||
    fail "repository-s3-$version.jar has no org.opensearch.repositories.s3.S3RepositoryPlugin"
  if [[ "$version" == 2.* ]]; then java_version=11; else java_version=21; fi
  cat >"$work/plugin/plugin-descriptor.properties" <<PROPS
description=The S3 repository plugin (assembled by snapcron's scripts/services.sh)
version=$version
name=repository-s3
classname=org.opensearch.repositories.s3.S3RepositoryPlugin
java.version=$java_version
opensearch.version=$version
extended.plugins=
has.native.controller=false
PROPS
  # What an S3 client needs: the network above all (OpenSearch 3.x's agent enforces socket
  # permissions per plugin), and reflection for the AWS SDK and Jackson.
  cat >"$work/plugin/plugin-security.policy" <<'POLICY'
grant {
  permission java.net.SocketPermission "*", "connect,resolve";
  permission java.net.NetPermission "getProxySelector";
  permission java.lang.RuntimePermission "accessDeclaredMembers";
  permission java.lang.RuntimePermission "getClassLoader";
  permission java.lang.RuntimePermission "setContextClassLoader";
  permission java.lang.reflect.ReflectPermission "suppressAccessChecks";
  permission java.util.PropertyPermission "*", "read,write";
};
POLICY
  rm -f "$work/plugin.zip"
  (cd "$work/plugin" && zip -q -r "$work/plugin.zip" .)
  mv "$work/plugin.zip" "$out"
  rm -rf "$work"
  echo "$out"
}

# ---------------------------------------------------------------------------------------------
# Starting

# Waits until the service answers; on failure prints the log's tail and returns 1.
wait_healthy() {
  local svc="$1" pid="$2" timeout="$3" log deadline
  log="$(log_file "$svc")"
  deadline=$((SECONDS + timeout))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "error: $(label "$svc") exited during startup; log: $log"
      tail -n 40 "$log" | sed "s/^/  $svc| /" >&2 || true
      return 1
    fi
    healthy "$svc" && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "error: $(label "$svc") did not answer on $(url_of "$svc") within $timeout s; log: $log"
      tail -n 40 "$log" | sed "s/^/  $svc| /" >&2 || true
      return 1
    fi
    sleep 1
  done
}

# Common part of `up` for one service: leave a healthy one alone, refuse a foreign port owner.
# Returns 0 when the service must be started, 10 when it is already up.
precheck() {
  local svc="$1" pid timeout port
  if pid="$(live_pid "$svc")"; then
    timeout="$2"
    # Started by an earlier `up`, maybe still booting.
    if healthy "$svc" || wait_healthy "$svc" "$pid" "$timeout"; then
      say "$(label "$svc") already running (pid $pid) at $(url_of "$svc")"
      return 10
    fi
    return 1
  fi
  rm -f "$(pid_file "$svc")"
  for port in $(ports_of "$svc"); do
    if port_busy "$port"; then
      say "error: port $port for $(label "$svc") is taken by a process that services.sh did not start; stop it or free the port"
      return 1
    fi
  done
  return 0
}

up_etcd() {
  local rc=0 pid dir="$RUN/etcd"
  precheck etcd "$ETCD_TIMEOUT" || rc=$?
  [ "$rc" -eq 10 ] && return 0
  [ "$rc" -eq 0 ] || return 1
  if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
    apt_install etcd-server etcd-client
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  # setsid: own process group, so `down` stops exactly this tree.
  setsid etcd \
    --name snapcron-test \
    --data-dir "$dir/data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "snapcron-test=http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster-state new \
    --initial-cluster-token snapcron-test \
    --quota-backend-bytes $((8 * 1024 * 1024 * 1024)) \
    --logger zap --log-outputs stderr \
    </dev/null >"$(log_file etcd)" 2>&1 &
  pid=$!
  echo "$pid" >"$(pid_file etcd)"
  wait_healthy etcd "$pid" "$ETCD_TIMEOUT" || { stop_one etcd >/dev/null 2>&1; return 1; }
  say "etcd $(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p') up (pid $pid) at $(url_of etcd)"
}

up_s3() {
  local rc=0 pid jar java_home dir="$RUN/s3"
  precheck s3 "$S3_TIMEOUT" || rc=$?
  [ "$rc" -eq 10 ] && return 0
  [ "$rc" -eq 0 ] || return 1
  ensure_java17
  jar="$(fetch_s3proxy)"
  java_home="$(pick_java_home 17)"
  rm -rf "$dir"
  mkdir -p "$dir/data"
  # filesystem, not transient: multi-GiB test objects must not live in the JVM heap.
  cat >"$dir/s3proxy.properties" <<EOF
s3proxy.endpoint=http://127.0.0.1:$S3_PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3_ACCESS_KEY
s3proxy.credential=$S3_SECRET_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=$dir/data
EOF
  (
    cd "$dir"
    exec setsid "$java_home/bin/java" -Xms64m -Xmx1g -jar "$jar" --properties "$dir/s3proxy.properties"
  ) </dev/null >"$(log_file s3)" 2>&1 &
  pid=$!
  echo "$pid" >"$(pid_file s3)"
  basename "$jar" | sed -E 's/^s3proxy-(.*)-jar-with-dependencies\.jar$/\1/' >"$dir/version"
  wait_healthy s3 "$pid" "$S3_TIMEOUT" || { stop_one s3 >/dev/null 2>&1; return 1; }
  say "s3proxy $(cat "$dir/version") up (pid $pid, Java $(java_major "$java_home/bin/java")) at $(url_of s3)"
}

up_es() {
  local rc=0 pid version java_home home dir="$RUN/es"
  precheck es "$ES_TIMEOUT" || rc=$?
  [ "$rc" -eq 10 ] && return 0
  [ "$rc" -eq 0 ] || return 1
  ensure_java17
  version="$(fetch_es)"
  if [ -n "${SNAPCRON_ES_JAVA_HOME:-}" ]; then
    java_home="$SNAPCRON_ES_JAVA_HOME"
  elif [[ "$version" == 9.* ]]; then
    java_home="$(pick_java_home 21)" || fail "Elasticsearch $version needs Java 21+ under /usr/lib/jvm"
  else
    java_home="$(pick_java_home 17)"
  fi
  ensure_es_user
  # Unpacked under the runtime dir, not the cache: $HOME is often closed to other users.
  home="$RUN/es-home/elasticsearch-$version"
  if [ ! -x "$home/bin/elasticsearch" ]; then
    say "unpacking Elasticsearch $version"
    rm -rf "$RUN/es-home/unpack"
    mkdir -p "$RUN/es-home/unpack"
    unzip -q "$(es_zip "$version")" -d "$RUN/es-home/unpack"
    rm -rf "$home"
    mv "$RUN/es-home/unpack/elasticsearch-$version" "$home"
    rm -rf "$RUN/es-home/unpack"
  fi
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/logs" "$dir/repo" "$dir/tmp"
  cp -R "$home/config" "$dir/config"
  cat >"$dir/config/elasticsearch.yml" <<EOF
cluster.name: snapcron-test
node.name: snapcron-test
discovery.type: single-node
network.host: 127.0.0.1
http.port: $ES_PORT
transport.port: $ES_TRANSPORT_PORT
path.data: $dir/data
path.logs: $dir/logs
path.repo: ["$dir/repo"]
xpack.security.enabled: false
# A nearly full test disk must not turn indices read-only or stop shard allocation.
cluster.routing.allocation.disk.threshold_enabled: false
EOF
  echo "$version" >"$dir/version"
  chown -R "$ES_USER:$ES_USER" "$dir"
  chmod 755 "$RUN" "$RUN/es-home"
  (
    cd "$dir/logs" # the JVM writes gc.log and crash files to its working directory
    exec setsid setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups \
      env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$dir" LANG=C.UTF-8 \
      ES_JAVA_HOME="$java_home" ES_PATH_CONF="$dir/config" ES_TMPDIR="$dir/tmp" \
      ES_JAVA_OPTS="-Xms512m -Xmx512m" \
      "$home/bin/elasticsearch"
  ) </dev/null >"$(log_file es)" 2>&1 &
  pid=$!
  echo "$pid" >"$(pid_file es)"
  wait_healthy es "$pid" "$ES_TIMEOUT" || { stop_one es >/dev/null 2>&1; return 1; }
  say "Elasticsearch $version up (pid $pid, Java $(java_major "$java_home/bin/java")) at $(url_of es)"
}

# Makes $1/snapcron-keystore/opensearch.keystore hold repository-s3's keys for s3proxy (two JVM
# runs, ~5 s, so it is made once per key pair and copied into each node's config).
ensure_os_keystore() {
  local home="$1" java_home="$2" dir="$1/snapcron-keystore" stamp log
  stamp="$(printf '%s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" | sha256sum | cut -d' ' -f1)"
  [ -f "$dir/opensearch.keystore" ] && [ "$(cat "$dir/keys.sha256" 2>/dev/null)" = "$stamp" ] &&
    return 0
  rm -rf "$dir"
  mkdir -p "$dir"
  log="$CACHE/opensearch-keystore.log"
  {
    env OPENSEARCH_JAVA_HOME="$java_home" OPENSEARCH_PATH_CONF="$dir" \
      "$home/bin/opensearch-keystore" create </dev/null &&
      printf '%s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" |
      env OPENSEARCH_JAVA_HOME="$java_home" OPENSEARCH_PATH_CONF="$dir" \
        "$home/bin/opensearch-keystore" add --stdin \
        s3.client.default.access_key s3.client.default.secret_key
  } >"$log" 2>&1 || {
    tail -n 20 "$log" >&2
    rm -rf "$dir"
    fail "opensearch-keystore failed; log: $log"
  }
  echo "$stamp" >"$dir/keys.sha256"
}

up_opensearch() {
  local rc=0 pid version java_home home unpack plugin_zip log dir="$RUN/opensearch"
  precheck opensearch "$OS_TIMEOUT" || rc=$?
  [ "$rc" -eq 10 ] && return 0
  [ "$rc" -eq 0 ] || return 1
  ensure_java17
  if [ -n "${SNAPCRON_OPENSEARCH_JAVA_HOME:-}" ]; then
    java_home="$SNAPCRON_OPENSEARCH_JAVA_HOME"
  elif [[ "${SNAPCRON_OPENSEARCH_VERSION:-}" == 2.* ]]; then
    java_home="$(pick_java_home 17)"
  else
    java_home="$(pick_java_home 21)" || fail "OpenSearch 3.x needs Java 21+ under /usr/lib/jvm"
  fi
  version="$(fetch_opensearch)"
  ensure_es_user
  # Unpacked, with repository-s3 installed, under the runtime dir (as for Elasticsearch).
  home="$RUN/os-home/opensearch-$version"
  if [ ! -d "$home/plugins/repository-s3" ]; then
    say "unpacking OpenSearch $version and installing repository-s3"
    unpack="$RUN/os-home/unpack"
    rm -rf "$unpack"
    mkdir -p "$unpack"
    unzip -q "$(os_zip "$version")" -d "$unpack"
    plugin_zip="$(os_plugin_zip "$version" "$unpack/opensearch-$version")"
    log="$CACHE/opensearch-plugin-install-$version.log"
    env OPENSEARCH_JAVA_HOME="$java_home" OPENSEARCH_PATH_CONF="$unpack/opensearch-$version/config" \
      "$unpack/opensearch-$version/bin/opensearch-plugin" install --batch "file://$plugin_zip" \
      </dev/null >"$log" 2>&1 || {
      tail -n 20 "$log" >&2
      fail "opensearch-plugin install $plugin_zip failed; log: $log"
    }
    rm -rf "$home"
    mv "$unpack/opensearch-$version" "$home"
    rm -rf "$unpack"
  fi
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/logs" "$dir/repo" "$dir/tmp"
  cp -R "$home/config" "$dir/config"
  cat >"$dir/config/opensearch.yml" <<YAML
cluster.name: snapcron-test
node.name: snapcron-test
discovery.type: single-node
network.host: 127.0.0.1
http.port: $OS_PORT
transport.port: $OS_TRANSPORT_PORT
path.data: $dir/data
path.logs: $dir/logs
path.repo: ["$dir/repo"]
# A nearly full test disk must not turn indices read-only or stop shard allocation.
cluster.routing.allocation.disk.threshold_enabled: false
# repository-s3's default client talks to s3proxy; the keys are in the keystore.
s3.client.default.endpoint: 127.0.0.1:$S3_PORT
s3.client.default.protocol: http
s3.client.default.path_style_access: true
s3.client.default.region: $S3_REGION
YAML
  # The JVM runs in the (shared, root-owned) home: its gc log and dumps go to this node's dirs.
  sed -i -e "s|logs/gc.log|$dir/logs/gc.log|" -e "s|HeapDumpPath=data|HeapDumpPath=$dir/data|" \
    -e "s|ErrorFile=logs/|ErrorFile=$dir/logs/|" "$dir/config/jvm.options"
  ensure_os_keystore "$home" "$java_home"
  cp "$home/snapcron-keystore/opensearch.keystore" "$dir/config/"
  echo "$version" >"$dir/version"
  chown -R "$ES_USER:$ES_USER" "$dir"
  chmod 755 "$RUN" "$RUN/os-home"
  (
    cd "$dir/logs"
    exec setsid setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups \
      env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$dir" LANG=C.UTF-8 \
      OPENSEARCH_JAVA_HOME="$java_home" OPENSEARCH_PATH_CONF="$dir/config" \
      OPENSEARCH_TMPDIR="$dir/tmp" OPENSEARCH_JAVA_OPTS="-Xms512m -Xmx512m" \
      "$home/bin/opensearch"
  ) </dev/null >"$(log_file opensearch)" 2>&1 &
  pid=$!
  echo "$pid" >"$(pid_file opensearch)"
  wait_healthy opensearch "$pid" "$OS_TIMEOUT" || { stop_one opensearch >/dev/null 2>&1; return 1; }
  say "OpenSearch $version up (pid $pid, Java $(java_major "$java_home/bin/java")) at $(url_of opensearch)"
}

# ---------------------------------------------------------------------------------------------
# Commands

selected() {
  local svc
  if [ "$#" -eq 0 ]; then
    printf '%s\n' "${ALL_SERVICES[@]}"
    return
  fi
  for svc in "$@"; do canonical "$svc"; done
}

cmd_up() {
  local services=() list svc pids=() failed=() i start=$SECONDS
  list="$(selected "$@")" || exit 2 # an unknown name
  mapfile -t services <<<"$list"
  [ "$(id -u)" -eq 0 ] || fail "run as root: it installs packages and starts Elasticsearch as user $ES_USER"
  mkdir -p "$CACHE" "$RUN"
  chmod 755 "$RUN"
  STATE="$(mktemp -d)"
  trap 'rm -rf "$STATE"' EXIT
  ensure_tools
  # One pipeline per service (install, start, wait), all at once; apt and Maven serialize
  # themselves with locks.
  for svc in "${services[@]}"; do
    "up_$svc" &
    pids+=($!)
  done
  for i in "${!services[@]}"; do
    wait "${pids[$i]}" || failed+=("$(label "${services[$i]}")")
  done
  if [ "${#failed[@]}" -gt 0 ]; then
    say "error: failed to start: ${failed[*]} (logs in $RUN)"
    exit 1
  fi
  say "ready in $((SECONDS - start)) s: ${services[*]}; use: eval \"\$(scripts/services.sh env)\""
}

stop_one() {
  local svc="$1" pid i
  if ! pid="$(live_pid "$svc")"; then
    [ -f "$(pid_file "$svc")" ] && say "$(label "$svc") was not running; removing stale pid file"
    rm -f "$(pid_file "$svc")"
    return 0
  fi
  # The pid is the leader of its own process group (setsid), so this stops its children too.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 60); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 -- "-$pid" 2>/dev/null; then
    say "$(label "$svc") did not stop within 30 s; killing it"
    kill -KILL -- "-$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$(pid_file "$svc")"
  say "$(label "$svc") stopped (pid $pid)"
}

cmd_down() {
  local services=() list svc pids=()
  list="$(selected "$@")" || exit 2 # an unknown name
  mapfile -t services <<<"$list"
  for svc in "${services[@]}"; do
    stop_one "$svc" &
    pids+=($!)
  done
  for svc in "${pids[@]}"; do wait "$svc"; done
}

export_line() {
  printf 'export %s=%q\n' "$1" "$2"
}

cmd_env() {
  if live_pid etcd >/dev/null; then
    export_line SNAPCRON_TEST_ETCD_URL "$(url_of etcd)"
  fi
  if live_pid s3 >/dev/null; then
    export_line SNAPCRON_TEST_S3_ENDPOINT "$(url_of s3)"
    export_line SNAPCRON_TEST_S3_ACCESS_KEY "$S3_ACCESS_KEY"
    export_line SNAPCRON_TEST_S3_SECRET_KEY "$S3_SECRET_KEY"
    export_line SNAPCRON_TEST_S3_REGION "$S3_REGION"
  fi
  if live_pid es >/dev/null; then
    export_line SNAPCRON_TEST_ES_URL "$(url_of es)"
    export_line SNAPCRON_TEST_ES_REPO_PATH "$RUN/es/repo"
    export_line SNAPCRON_TEST_ES_VERSION "$(cat "$RUN/es/version" 2>/dev/null || echo unknown)"
  fi
  if live_pid opensearch >/dev/null; then
    export_line SNAPCRON_TEST_OPENSEARCH_URL "$(url_of opensearch)"
    export_line SNAPCRON_TEST_OPENSEARCH_VERSION \
      "$(cat "$RUN/opensearch/version" 2>/dev/null || echo unknown)"
  fi
}

cmd_status() {
  local services=() list svc pid state
  list="$(selected "$@")" || exit 2 # an unknown name
  mapfile -t services <<<"$list"
  for svc in "${services[@]}"; do
    if pid="$(live_pid "$svc")"; then
      if healthy "$svc"; then state="running"; else state="starting"; fi
      state="$state (pid $pid)"
    else
      state="stopped"
    fi
    printf '%-10s %-20s %-24s log: %s\n' "$svc" "$state" "$(url_of "$svc")" "$(log_file "$svc")"
  done
}

main() {
  local cmd="${1:-}"
  [ "$#" -gt 0 ] && shift
  if [[ "$cmd" == up || "$cmd" == down ]] && [ -z "${SNAPCRON_SERVICES_LOCKED:-}" ]; then
    # One up/down at a time. -o: the servers started must not inherit (and hold) the lock.
    mkdir -p "$RUN"
    SNAPCRON_SERVICES_LOCKED=1 exec flock -o "$RUN/.lock" "$BASH" "${BASH_SOURCE[0]}" "$cmd" "$@"
  fi
  case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    env) cmd_env ;;
    status) cmd_status "$@" ;;
    *)
      echo "usage: scripts/services.sh up|down|status [etcd|s3|es|opensearch ...] | env" >&2
      exit 2
      ;;
  esac
}

main "$@"
