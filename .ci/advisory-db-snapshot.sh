#!/usr/bin/env bash
# Make a snapshot of the RustSec advisory database for the advisory check of .ci/run (CI
# reaches no git host and the repository does not carry third-party data; see deny.toml).
# Usage: .ci/advisory-db-snapshot.sh PATH [OUT]
#   PATH: a git checkout or bare clone of the database; OUT: the snapshot's path
#   (default ../shared/advisory-db.tar.xz); its commit and date go to OUT's .version beside it.
set -euo pipefail
src="${1:?usage: $0 PATH-TO-ADVISORY-DB-GIT [OUT.tar.xz]}"
out="${2:-$(dirname "$0")/../../shared/advisory-db.tar.xz}"
commit="$(git -C "$src" rev-parse HEAD)"
date="$(git -C "$src" log -1 --format=%cI HEAD)"
# Only what cargo-deny reads (the advisories of crates and of the Rust toolchain) and the
# database's licence (CC0-1.0).
git -C "$src" archive --format=tar HEAD crates rust LICENSE.txt README.md | xz -9e >"$out"
echo "$commit $date" >"${out%.tar.xz}.version"
echo "snapshot $commit of $date: $(du -h "$out" | cut -f1)"
