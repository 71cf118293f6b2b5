#!/bin/sh
# deps.sh - install what the build, the server and the full test suite need
# on Debian 12. Idempotent: when every package is already installed it does
# not touch apt at all (fast, works offline). As non-root it only reports
# what is missing and fails if anything is.
#
#   sh tests/deps.sh
set -eu

# libgnutls28-dev: the server sets up TLS client verification through GnuTLS
# (libmicrohttpd's TLS library). openssl: the TLS integration test makes its
# own CA. clang + libclang-rt-14-dev: libFuzzer and the sanitizers for
# tests/fuzz/run.sh. protobuf-compiler: protoc, for the curl examples in
# docs/api.md and, with python3-grpcio and python3-protobuf, the Locket stand-in
# of the integration tests (tests/support/locket_standin.py).
PACKAGES="gcc make cmake pkg-config libmicrohttpd-dev libgnutls28-dev libprotobuf-c-dev
protobuf-c-compiler protobuf-compiler libpq-dev libjansson-dev uuid-dev libcmocka-dev
libcurl4-openssl-dev postgresql valgrind clang-format clang libclang-rt-14-dev openssl util-linux
ca-certificates nettle-dev
python3-grpcio python3-protobuf"

# PACKAGES is a word list; it is split on purpose below.
# shellcheck disable=SC2086
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: dpkg-query not found; this script supports Debian 12 only." >&2
    echo "deps.sh: install by hand:" $PACKAGES >&2
    exit 1
fi

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages:$missing" >&2
    echo "deps.sh: as root run: apt-get update && apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi

echo "deps.sh: installing:$missing" >&2
apt-get -qq update >/dev/null
# $missing is a word list of package names from PACKAGES above.
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends $missing >/dev/null
