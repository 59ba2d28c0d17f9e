#!/usr/bin/env bash
# Builds the largest public-domain English corpus we can get from Debian packages (../shared/docs/datasets.md §1;
# issue 16): the Project-Gutenberg-type works Debian ships, normalised and deduplicated, one file per work, into the
# ignored cache: <cache>/corpora/gutenberg/NN-<work>.txt + MANIFEST.tsv. `data.corpus: [gutenberg]` names it
# (configs/lm/pair.yaml). Idempotent: an existing corpus is left alone (--force rebuilds it).
#
#   scripts/lm/build_gutenberg_corpus.sh [--cache DIR] [--force]      (default cache: $SIGTRAIN_CACHE or .cache/sigtrain)
#
# Works (all public domain; the packages are only downloaded and unpacked -- apt-get download + dpkg -x -- except
# bible-kjv, which scripts/fetch_data.sh installs because only its `bible` tool reads the text):
#   King James Bible (bible-kjv), World English Bible (sword-text-web), Matthew Henry's Concise Commentary
#   (sword-comm-mhcc), Spurgeon's Treasury of David (sword-comm-tdavid), Scofield Reference Notes 1917
#   (sword-comm-scofield), Jane Austen's six novels (r-cran-janeaustenr, read from its R data base without R),
#   Bierce's Devil's Dictionary (dict-devil), and the books of scripts/fetch_data.sh (Sherlock Holmes, Tom Sawyer,
#   Opticks, Hamlet act 1).
# Downloads about 25 MB of packages (not part of setup.sh or CI); writes ~31 MB of text. Extraction, normalisation
# and deduplication: scripts/lm/gutenberg_corpus.py (python3, standard library only).
set -euo pipefail
cd "$(dirname "$0")/../.."

cache="${SIGTRAIN_CACHE:-.cache/sigtrain}"
force=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cache) [[ $# -ge 2 ]] || { echo "build_gutenberg_corpus.sh: --cache needs a directory" >&2; exit 2; }; cache="$2"; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "build_gutenberg_corpus.sh: unknown option '$1' (--cache DIR, --force)" >&2; exit 2 ;;
  esac
done
out="$cache/corpora/gutenberg"
if [[ -s "$out/MANIFEST.tsv" && $force == 0 ]]; then
  echo "build_gutenberg_corpus.sh: $out exists (--force rebuilds it):"
  du -b "$out"/*.txt | awk '{s+=$1; printf "  %-60s %11d bytes\n", $2, $1} END {printf "  %-60s %11d bytes\n", "total", s}'
  exit 0
fi

# The books scripts/fetch_data.sh already fetches (the KJV among them).
scripts/fetch_data.sh --cache "$cache" kjv sherlock tom_sawyer opticks hamlet

packages=(sword-text-web sword-comm-mhcc sword-comm-tdavid sword-comm-scofield r-cran-janeaustenr dict-devil)
apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then as_root=(sudo); else as_root=(false); fi
fi
has_candidate() { apt-cache policy "$1" 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; }
for p in "${packages[@]}"; do
  if ! has_candidate "$p"; then "${as_root[@]}" apt-get "${apt_opts[@]}" update -qq; break; fi
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: > "$work/versions.tsv"
for p in "${packages[@]}"; do
  has_candidate "$p" || { echo "build_gutenberg_corpus.sh: Debian package $p is not available from the configured apt sources" >&2; exit 1; }
  # apt-get download as root warns that it runs unsandboxed; harmless, so keep stderr unless it fails.
  if ! (cd "$work" && apt-get "${apt_opts[@]}" download -qq "$p" 2>"$work/err"); then cat "$work/err" >&2; exit 1; fi
  deb=$(ls "$work"/"$p"_*.deb)
  dpkg -x "$deb" "$work/x"
  printf '%s\t%s\n' "$p" "$(dpkg-deb -f "$deb" Version)" >> "$work/versions.tsv"
  printf '  %-24s %10d bytes downloaded\n' "$p" "$(stat -c %s "$deb")"
done
for p in bible-kjv golang-github-pierrec-lz4-dev golang-github-andybalholm-brotli-dev golang-github-golang-leveldb-dev; do
  v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || apt-cache policy "$p" | sed -n 's/ *Candidate: //p')
  printf '%s\t%s\n' "$p" "$v" >> "$work/versions.tsv"
done

echo "build_gutenberg_corpus.sh: extracting and deduplicating into $out"
rm -rf "$out.tmp"
python3 scripts/lm/gutenberg_corpus.py --unpacked "$work/x" --corpora "$cache/corpora" \
  --versions "$work/versions.tsv" --out "$out.tmp"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "build_gutenberg_corpus.sh: wrote $out ($(du -sb "$out" | cut -f1) bytes); data.corpus: [gutenberg] names it"
