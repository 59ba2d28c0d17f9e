#!/usr/bin/env bash
# Copies the full Fashion-MNIST (Debian's dataset-fashion-mnist: 60,000 + 10,000 28x28 gray images in gzip'd IDX,
# MIT, Zalando SE) into the ignored cache, default .cache/sigtrain/vision/fashion-mnist/, the default
# `path` of the vision data section (docs/vision-data.md). Idempotent: files already there and complete are left
# alone. Verifies the image and label counts (60000 / 10000) and prints what it wrote, in bytes.
#
#   scripts/fetch_vision_data.sh                  # into .cache/sigtrain/vision/fashion-mnist/
#   SIGTRAIN_CACHE=/path scripts/fetch_vision_data.sh   (or --cache DIR)
#
# When the package is installed (apt-get install dataset-fashion-mnist), its files are copied from
# /usr/share/datasets/fashion-mnist/ (found with dpkg -L); otherwise the .deb is only downloaded and unpacked
# (apt-get download + dpkg -x), nothing is installed.
set -euo pipefail

cache="${SIGTRAIN_CACHE:-.cache/sigtrain}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cache) [[ $# -ge 2 ]] || { echo "fetch_vision_data.sh: --cache needs a directory" >&2; exit 2; }; cache="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "fetch_vision_data.sh: unknown option '$1' (known: --cache DIR)" >&2; exit 2 ;;
  esac
done

pkg=dataset-fashion-mnist
out="$cache/vision/fashion-mnist"
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
mkdir -p "$out"

# Other apt users may hold the dpkg lock: wait for it instead of failing.
apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then as_root=(sudo); else as_root=(false); fi
fi
# (grep without -q: with pipefail, grep -q exiting early would fail the pipeline through SIGPIPE)
apt_has_candidate() { apt-cache policy "$1" 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; }

# The count field of an IDX header (big-endian int32 at byte 4), after checking the magic.
idx_count() {
  local file="$1" magic="$2" header
  header=$(gzip -dc "$file" 2>/dev/null | head -c 8 | od -An -tx1 | tr -d ' \n') || true
  [[ "${header:0:8}" == "$magic" ]] || { echo "bad"; return; }
  echo $((16#${header:8:8}))
}

# count FILE: expected number of images / labels.
expected_count() { case "$1" in train-*) echo 60000 ;; t10k-*) echo 10000 ;; esac; }
expected_magic() { case "$1" in *images*) echo 00000803 ;; *labels*) echo 00000801 ;; esac; }

complete() {
  local f="$1"
  [[ -s "$out/$f" ]] && gzip -t "$out/$f" 2>/dev/null &&
    [[ "$(idx_count "$out/$f" "$(expected_magic "$f")")" == "$(expected_count "$f")" ]]
}

missing=()
for f in "${files[@]}"; do complete "$f" || missing+=("$f"); done

if [[ ${#missing[@]} -gt 0 ]]; then
  src=""
  if dpkg -s "$pkg" >/dev/null 2>&1; then
    src=$(dirname "$(dpkg -L "$pkg" | grep '/train-images-idx3-ubyte.gz$')")
  fi
  work=""
  if [[ -z "$src" ]]; then
    apt_has_candidate "$pkg" || "${as_root[@]}" apt-get "${apt_opts[@]}" update -qq
    apt_has_candidate "$pkg" || { echo "fetch_vision_data.sh: Debian package $pkg is not available from the configured apt sources" >&2; exit 1; }
    work=$(mktemp -d)
    # apt-get download as root warns that it runs unsandboxed; harmless, so keep stderr quiet unless it fails.
    if ! (cd "$work" && apt-get "${apt_opts[@]}" download -qq "$pkg" 2>"$work/err"); then
      cat "$work/err" >&2; rm -rf "$work"; exit 1
    fi
    dpkg -x "$work"/"$pkg"_*.deb "$work/x"
    src="$work/x/usr/share/datasets/fashion-mnist"
  fi
  for f in "${missing[@]}"; do
    [[ -s "$src/$f" ]] || { echo "fetch_vision_data.sh: $pkg has no $f (looked in $src)" >&2; exit 1; }
    cp "$src/$f" "$out/$f.tmp.$$" && mv "$out/$f.tmp.$$" "$out/$f"
    if ! complete "$f"; then
      echo "fetch_vision_data.sh: $out/$f: expected $(expected_count "$f") items with magic $(expected_magic "$f")," \
           "found $(idx_count "$out/$f" "$(expected_magic "$f")")" >&2
      rm -f "$out/$f"; exit 1
    fi
  done
  [[ -z "$work" ]] || rm -rf "$work"
fi

echo "fetch_vision_data.sh: cache $cache"
for f in "${files[@]}"; do
  printf '  %-28s %6d items %10d bytes  %s\n' "$f" "$(idx_count "$out/$f" "$(expected_magic "$f")")" \
    "$(stat -c %s "$out/$f")" "$out/$f"
done
