#!/usr/bin/env bash
# Refresh the RustSec advisory database snapshot that the advisory check of .ci/run reads
# (CI reaches no git host, so the database travels in the repository; see deny.toml).
# Usage: .ci/advisory-db-refresh.sh PATH   (PATH: a git checkout or bare clone of the database)
set -euo pipefail
src="${1:?usage: $0 PATH-TO-ADVISORY-DB-GIT}"
here="$(cd "$(dirname "$0")" && pwd)"
commit="$(git -C "$src" rev-parse HEAD)"
date="$(git -C "$src" log -1 --format=%cI HEAD)"
# Only what cargo-deny reads (the advisories of crates and of the Rust toolchain) and the
# database's licence (CC0-1.0).
git -C "$src" archive --format=tar HEAD crates rust LICENSE.txt README.md | xz -9e >"$here/advisory-db.tar.xz"
echo "$commit $date" >"$here/advisory-db.version"
echo "snapshot $commit of $date: $(du -h "$here/advisory-db.tar.xz" | cut -f1)"
