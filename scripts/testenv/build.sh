#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok) from the Go module proxy and collects the CRDs
# the integration tests install; `kruise` builds the OpenKruise Rollouts controller, `tools` cue and helm 3 and 4,
# `traefik` the proxy of the data-plane tests.
# Idempotent: a binary that already reports (or is stamped with) the pinned version
# is not rebuilt. Nothing is written inside the repository.
#
#   scripts/testenv/build.sh            # build what is missing, print the cache dir
#   scripts/testenv/build.sh kruise     # the same for the OpenKruise Rollouts controller
#   STEPWISE_CACHE=/some/dir build.sh   # cache root (default ~/.cache/stepwise)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
key="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_gw-${GATEWAY_API_VERSION}_kruise-${KRUISE_ROLLOUTS_VERSION}"
root="${STEPWISE_CACHE:-$HOME/.cache/stepwise}/testenv/$key"
bin="$root/bin" crds="$root/crds" work="$root/work"
mkdir -p "$bin" "$crds" "$work"

log() { printf '[testenv %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# have NAME PATTERN ARGS...: NAME is built and `NAME ARGS...` prints PATTERN (its pinned version).
have() { local name=$1 pattern=$2; shift 2; [[ -x "$bin/$name" ]] && "$bin/$name" "$@" 2>/dev/null | grep -F -- "$pattern" >/dev/null; }  # not -q: under pipefail an early exit would SIGPIPE the writer
mod_field() { go mod download -json "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]))' "$2"; }

# A wrapper module per tool, so minimal version selection never mixes their graphs.
wrapper() {
  local dir="$work/$1"; rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && go mod init "local.test/$1" >/dev/null 2>&1)
  echo "$dir"
}

build_kubernetes() {
  local v=$KUBERNETES_VERSION
  if have kube-apiserver "Kubernetes $v" --version && have kube-controller-manager "Kubernetes $v" --version \
     && have kube-scheduler "Kubernetes $v" --version && have kubectl "$v" version --client; then
    log "kubernetes $v: cached"; return
  fi
  log "kubernetes $v: building (cold: about 6 min on 2 cores)"
  local dir; dir=$(wrapper k8s); cd "$dir"
  local staging="v0.${v#v1.}" minor; minor=$(echo "$v" | cut -d. -f2)
  # Derive the staging replaces from upstream's own go.mod, so new staging modules need no edit here.
  go mod edit -json "$(mod_field "k8s.io/kubernetes@$v" GoMod)" | node -e '
    let s=""; process.stdin.on("data",d=>s+=d).on("end",()=>{ const m=JSON.parse(s);
      for (const r of m.Replace||[]) if (r.New.Path.startsWith("./staging/")) console.log(`-replace=${r.Old.Path}=${r.Old.Path}@${process.argv[1]}`);
      for (const e of m.Exclude||[]) console.log(`-exclude=${e.Path}@${e.Version}`); })' "$staging" | xargs go mod edit
  go mod edit -go=1.26.0
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl) pkgs=()
  for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  go get -tool "${pkgs[@]/%/@$v}"
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  go build -trimpath -ldflags "$ld" -o "$bin/" "${pkgs[@]}"
  "$bin/kube-apiserver" --version >&2
}

build_etcd() {
  if have etcd "etcd Version: ${ETCD_VERSION#v}" --version; then log "etcd $ETCD_VERSION: cached"; return; fi
  log "etcd $ETCD_VERSION: building"
  local dir; dir=$(wrapper etcd); cd "$dir"
  go mod edit -go=1.26.0
  go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3
}

build_go_install() { # NAME PACKAGE@VERSION PATTERN PROBE-ARGS... (ldflags in $LDFLAGS)
  local name=$1 pkg=$2 pattern=$3; shift 3
  if have "$name" "$pattern" "$@"; then log "$name: cached"; return; fi
  log "$name: go install $pkg"
  # Installed beside, then renamed: two major versions of one tool (helm 3 and 4) share a command name.
  local out="$work/install-$name"; rm -rf "$out"; mkdir -p "$out"
  GOBIN="$out" go install -trimpath -ldflags "-s -w ${LDFLAGS:-}" "$pkg"
  mv "$out/$(basename "${pkg%@*}")" "$bin/$name"; rm -rf "$out"
}

# The OpenKruise Rollouts manager, for tests that run the real Kruise controller. `go install` cannot build it
# (the proxy refuses the module's version list, which `go install pkg@version` reads), so it is built inside a
# writable copy of the module source. It does not print its version: a stamp file beside it records the pin,
# written last so an interrupted build is redone. What it reads at run time is kept in "$root/kruise" with the
# module's layout: the CRDs and webhook manifests it expects installed, and lua_configuration/, which it reads
# relative to its working directory (so that directory is its cwd).
build_kruise() {
  local v=$KRUISE_ROLLOUTS_VERSION data="$root/kruise" stamp="$bin/kruise-rollout.version"
  if [[ -x "$bin/kruise-rollout" && "$(cat "$stamp" 2>/dev/null)" == "$v" \
     && -f "$data/lua_configuration/trafficrouting_ingress/nginx.lua" ]]; then
    log "kruise-rollout $v: cached"; return
  fi
  log "kruise-rollout $v: building (cold: about 3 min on 2 cores)"
  rm -f "$stamp"
  local mod dir="$work/kruise-rollouts"; mod=$(mod_field "github.com/openkruise/rollouts@$v" Dir)
  rm -rf "$dir"; cp -R "$mod" "$dir"; chmod -R u+w "$dir"  # the module cache is read-only
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$bin/kruise-rollout" .)
  rm -rf "$data.tmp"; mkdir -p "$data.tmp/config/crd"
  cp -R "$dir/config/crd/bases" "$data.tmp/config/crd/"
  cp -R "$dir/config/webhook" "$dir/config/default" "$data.tmp/config/"
  cp -R "$dir/lua_configuration" "$data.tmp/"
  rm -rf "$data"; mv "$data.tmp" "$data"; rm -rf "$dir"
  echo "$v" >"$stamp"
  log "kruise-rollout $v: $(find "$data/config/crd/bases" -name '*.yaml' | wc -l) CRDs, data in $data"
}

# Traefik, the real proxy of the data-plane tests: it serves ingress-nginx's canary annotations (since v3.7) and
# Gateway API weights. Built in a wrapper module with Traefik's own replaces and exclude, except where the module
# proxy refuses a zip: go-http-auth takes the fork Traefik v3.6 pinned (a test proxy only: never ship it); the
# nested module dynamic/ext, missing from Traefik's zip, becomes a stub of its two types; and lego (ACME) loses
# the DNS providers whose cloud SDKs are refused, so only ACME DNS challenges, unused here, are gone.
REFUSED_LEGO_PROVIDERS=(alidns aliesa azion dnsimple edgedns edgeone huaweicloud oraclecloud regfish sakuracloud
  tencentcloud ucloud yandexcloud)
build_traefik() {
  local v=$TRAEFIK_VERSION
  if have traefik "$v" version; then log "traefik $v: cached"; return; fi
  log "traefik $v: building (cold: about 5 min on 2 cores)"
  local dir; dir=$(wrapper traefik); cd "$dir"
  local upstream lego; upstream=$(mod_field "github.com/traefik/traefik/v3@$v" GoMod)
  lego=$(awk '$1 == "github.com/go-acme/lego/v5" { print $2; exit }' "$upstream")
  mkdir ext && printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.26\n' >ext/go.mod
  printf 'package ext\n\ntype HTTP struct{}\n\ntype Router struct{}\n' >ext/ext.go
  cp -R "$(mod_field "github.com/go-acme/lego/v5@$lego" Dir)" lego && chmod -R u+w lego
  local p registry=lego/providers/dns/zz_gen_dns_providers.go
  for p in "${REFUSED_LEGO_PROVIDERS[@]}"; do
    rm -rf "lego/providers/dns/$p"
    sed -i -e "\#/providers/dns/$p\"\$#d" -e "/^\tcase \"$p\"/d" -e "/[^a-z]$p\.NewDNSProvider/d" "$registry"
  done
  go mod edit -go=1.26.0 -exclude=github.com/tencentcloud/tencentcloud-sdk-go@v3.0.83+incompatible \
    -replace=github.com/abbot/go-http-auth=github.com/containous/go-http-auth@v0.4.1-0.20200324110947-a37a7636d23e \
    -replace=github.com/gorilla/mux=github.com/containous/mux@v0.0.0-20250523120546-41b6ec3aed59 \
    -replace=github.com/traefik/traefik/dynamic/ext=./ext -replace=github.com/go-acme/lego/v5=./lego
  go get "github.com/traefik/traefik/v3/cmd/traefik@$v"
  go build -trimpath -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$v" -o "$bin/traefik" \
    github.com/traefik/traefik/v3/cmd/traefik
  cd / && rm -rf "$dir"
}

# CRDs the tests install, and kwok's stage definitions (kwok has no built-in stages), from the module cache.
collect_data() {
  local gw kr kw
  gw=$(mod_field "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" Dir)
  kr=$(mod_field "github.com/openkruise/rollouts@$KRUISE_ROLLOUTS_VERSION" Dir)
  kw=$(mod_field "sigs.k8s.io/kwok@$KWOK_VERSION" Dir)
  rm -rf "$crds.tmp"; mkdir -p "$crds.tmp/gateway-api" "$crds.tmp/kruise-rollouts"
  cp "$gw"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$crds.tmp/gateway-api/"
  cp "$kr"/config/crd/bases/*.yaml "$crds.tmp/kruise-rollouts/"
  chmod -R u+w "$crds.tmp"; rm -rf "$crds"; mv "$crds.tmp" "$crds"
  rm -rf "$root/kwok-stages"; mkdir -p "$root/kwok-stages"
  cp "$kw"/kustomize/stage/node/fast/node-initialize.yaml "$kw"/kustomize/stage/pod/fast/pod-ready.yaml \
     "$kw"/kustomize/stage/pod/fast/pod-delete.yaml "$root/kwok-stages/"
  chmod -R u+w "$root/kwok-stages"
  log "CRDs: $(find "$crds" -name '*.yaml' | wc -l) files; kwok stages: $(ls "$root/kwok-stages" | wc -l)"
}

# One build at a time per cache: a second caller (a test file while `npm test` builds in the background)
# waits here and then finds everything cached.
exec 9>"$root/.build.lock"
flock 9
start=$SECONDS
what=${1:-control-plane}
case "$what" in
  control-plane)
    build_etcd
    LDFLAGS="-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
      build_go_install kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "$KWOK_VERSION" --version
    collect_data
    build_kubernetes ;;
  tools)
    build_go_install cue "cuelang.org/go/cmd/cue@$CUE_VERSION" "$CUE_VERSION" version
    LDFLAGS="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
      build_go_install helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "$HELM_VERSION" version
    LDFLAGS="-X helm.sh/helm/v4/internal/version.version=$HELM4_VERSION" \
      build_go_install helm4 "helm.sh/helm/v4/cmd/helm@$HELM4_VERSION" "$HELM4_VERSION" version ;;
  kruise) build_kruise ;;
  traefik) build_traefik ;;
  *) echo "usage: build.sh [control-plane|tools|kruise|traefik]" >&2; exit 2 ;;
esac
log "$what ready in $((SECONDS - start)) s: $root"
echo "$root"
