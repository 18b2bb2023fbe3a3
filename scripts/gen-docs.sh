#!/usr/bin/env bash
# Generate the shell completions and the man page from the CLI definition,
# into completions/ and manpages/ (both git-ignored). goreleaser runs this
# as a before hook, so a release ships what the binary itself describes.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Built for the machine running the release, not a target: only its output
# is shipped.
CGO_ENABLED=0 go build -trimpath -o "$tmp/pgmig" .

rm -rf completions manpages
mkdir -p completions manpages
"$tmp/pgmig" completion bash > completions/pgmig.bash
"$tmp/pgmig" completion zsh > completions/_pgmig
"$tmp/pgmig" completion fish > completions/pgmig.fish
# -n: no name or timestamp in the gzip header, so the output is reproducible.
"$tmp/pgmig" man | gzip -9 -n > manpages/pgmig.1.gz
