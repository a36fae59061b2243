#!/usr/bin/env bash
# Regenerates constructs/imports/ (committed) from the pinned CRDs: Gateway API HTTPRoute from the Go module
# sigs.k8s.io/gateway-api and the OpenKruise Rollout CRD from github.com/openkruise/rollouts. Offline once the
# Go module cache has them; needs Go and the npm devDependencies.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/testenv/versions.env
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
moddir() { (cd "$(mktemp -d)" && go mod init tmp >/dev/null 2>&1 && go mod download -json "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))'); }
gw=$(moddir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")
kr=$(moddir "github.com/openkruise/rollouts@$KRUISE_ROLLOUTS_VERSION")
export CDK8S_CHECK_UPGRADE=false
for spec in \
  "gateway:=$gw/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml" \
  "kruise:=$kr/config/crd/bases/rollouts.kruise.io_rollouts.yaml"; do
  npx cdk8s import --language typescript --output constructs/imports --no-save "$spec"
done
ls -la constructs/imports
