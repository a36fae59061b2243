#!/usr/bin/env bash
# `npm test`: the whole suite in one node test run. The control plane's Go build (minutes when cold) starts
# first, in the background, so it overlaps the unit tests; the integration tests wait for it (build.sh locks).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npm run -s build
build_log=$(mktemp -t stepwise-testenv-build.XXXXXX)
echo "building the test control plane in the background (log: $build_log)" >&2
bash scripts/testenv/build.sh control-plane >"$build_log" 2>&1 &
node --test dist/test/unit/ dist/test/integration/
