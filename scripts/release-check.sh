#!/usr/bin/env bash
# Checks the release locally without publishing anything: `goreleaser check`,
# then a snapshot release (archives, checksums, deb and rpm; no container
# image, as that needs a container engine), then looks inside the
# linux/amd64 archive: its pgmig reports the stamped snapshot version and
# commit, is a static -trimpath build, and the archive holds README, docs/,
# LICENSE, the shell completions and the man page.
#
# Usage: scripts/release-check.sh
#   RELEASE_CHECK_SINGLE_TARGET=1  build only linux/amd64 (a CI-sized run)
#   GORELEASER="goreleaser"        use an installed goreleaser instead of the
#                                  pinned one from the Go module proxy
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: the config is checked against this version's schema.
read -r -a goreleaser <<<"${GORELEASER:-go run github.com/goreleaser/goreleaser/v2@v2.15.1}"
out=.goreleaser-out # the config's dist:
start=$SECONDS

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

"${goreleaser[@]}" check

config=.goreleaser.yaml
if [[ ${RELEASE_CHECK_SINGLE_TARGET:-} == 1 ]]; then
  # goreleaser has --single-target only for `build`, which makes no
  # archives, so narrow the targets in a copy of the config instead.
  config=$tmp/goreleaser.single.yaml
  sed -e 's/^\(    goos:\) \[linux, darwin, windows\]$/\1 [linux]/' \
      -e 's/^\(    goarch:\) \[amd64, arm64\]$/\1 [amd64]/' .goreleaser.yaml > "$config"
  if cmp -s "$config" .goreleaser.yaml || ! grep -q '^    goos: \[linux\]$' "$config"; then
    echo "release-check: could not narrow the targets in .goreleaser.yaml (goos/goarch lines changed?)" >&2
    exit 1
  fi
fi

"${goreleaser[@]}" release --config "$config" --snapshot --clean --skip=publish,docker

version=$(jq -r .version "$out/metadata.json")
commit=$(git rev-parse HEAD)
echo "snapshot version: $version"
if [[ -z $version || $version == null || $version == dev ]]; then
  fail "metadata.json has no version: $version"
fi

# The linux/amd64 archive.
archive=$out/pgmig_${version}_linux_amd64.tar.gz
if [[ ! -f $archive ]]; then
  fail "no $archive; built: $(ls "$out")"
else
  mkdir "$tmp/x"
  tar -xzf "$archive" -C "$tmp/x"
  for f in pgmig README.md CONTRIBUTING.md RELEASING.md docs/cli.md docs/safety.md LICENSE completions/pgmig.bash completions/_pgmig completions/pgmig.fish manpages/pgmig.1.gz; do
    if [[ -s $tmp/x/$f ]]; then pass "archive holds $f"; else fail "archive lacks $f"; fi
  done
  got=$("$tmp/x/pgmig" version)
  if [[ $got == *"$version"* && $got == *"$commit"* && $got != *dev* ]]; then
    pass "pgmig version: $got"
  else
    fail "pgmig version printed \"$got\", want version $version and commit $commit"
  fi
  got=$("$tmp/x/pgmig" --version)
  if [[ $got == *"$version"* ]]; then pass "pgmig --version: $got"; else fail "pgmig --version printed \"$got\""; fi
  info=$(go version -m "$tmp/x/pgmig")
  if grep -q 'CGO_ENABLED=0' <<<"$info" && grep -q -- '-trimpath=true' <<<"$info"; then
    pass "static (CGO_ENABLED=0) -trimpath build"
  else
    fail "not a static -trimpath build:"$'\n'"$info"
  fi
  if gzip -dc "$tmp/x/manpages/pgmig.1.gz" | grep -q '^\.TH pgmig 1'; then pass "man page is roff"; else fail "man page has no .TH"; fi
  if bash -c "source '$tmp/x/completions/pgmig.bash' && complete -p pgmig" >/dev/null 2>&1; then
    pass "bash completion loads"
  else
    fail "bash completion does not load"
  fi
fi

# Everything else the release is made of.
if [[ ${RELEASE_CHECK_SINGLE_TARGET:-} == 1 ]]; then
  targets=(linux_amd64)
else
  targets=(linux_amd64 linux_arm64 darwin_amd64 darwin_arm64 windows_amd64 windows_arm64)
fi
for t in "${targets[@]}"; do
  ext=tar.gz
  [[ $t == windows_* ]] && ext=zip
  f=$out/pgmig_${version}_$t.$ext
  if [[ -s $f ]]; then pass "archive $(basename "$f")"; else fail "missing archive $f"; fi
done
for arch in "${targets[@]}"; do
  [[ $arch == linux_* ]] || continue
  arch=${arch#linux_}
  for pattern in "pgmig_*_$arch.deb" "pgmig-*.$( [[ $arch == amd64 ]] && echo x86_64 || echo aarch64).rpm"; do
    # shellcheck disable=SC2086
    if compgen -G "$out/$pattern" >/dev/null; then pass "package $(basename $out/$pattern)"; else fail "missing package $pattern"; fi
  done
done
if [[ -s $out/checksums.txt ]] && (cd "$out" && sha256sum --quiet -c checksums.txt); then
  pass "checksums.txt lists $(wc -l <"$out/checksums.txt") files, all match"
else
  fail "checksums.txt missing or wrong"
fi
if command -v dpkg-deb >/dev/null; then
  deb=$(compgen -G "$out/pgmig_*_amd64.deb" | head -1)
  if [[ -n $deb ]]; then
    listing=$(dpkg-deb -c "$deb")
    for p in ./usr/bin/pgmig ./usr/share/bash-completion/completions/pgmig ./usr/share/zsh/vendor-completions/_pgmig \
             ./usr/share/fish/vendor_completions.d/pgmig.fish ./usr/share/man/man1/pgmig.1.gz; do
      if grep -q " $p\$" <<<"$listing"; then pass "deb installs $p"; else fail "deb lacks $p"; fi
    done
  fi
fi

echo "release-check: $((SECONDS - start))s"
if ((failures > 0)); then
  echo "release-check: $failures failed" >&2
  exit 1
fi
echo "release-check: ok"
