#!/usr/bin/env bash
# The Redis executor tests (test/experiments/executor-redis.test.ts, redis-*.test.ts) start Debian's
# redis-server on a free loopback port. Install it when missing; needs root/apt.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "redis-server is missing and this user cannot apt-get install it; install Debian's 'redis-server' package" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq redis-server >/dev/null
command -v redis-server >/dev/null
