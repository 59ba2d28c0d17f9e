#!/usr/bin/env bash
# Packs the LM pair's data for the GPU machine into .device-lm/ (git-ignored): the corpus that
# scripts/lm/build_gutenberg_corpus.sh builds and its tokenised cache entry (SentencePiece BPE 8192 + token shards,
# written by the first `sigtrain train` of configs/lm/pair*.yaml: 77 s on the 2-core development machine), each as
# tar.xz, so that they fit the device tool's 64 MiB with the tree and .device-slim (31.6 MB of text and 16 MB of
# tokens become 14 MiB). scripts/device/lm_pair_device.sh unpacks them there; the cache key is a hash of the
# corpus bytes, so the entry is found as it is.
#   scripts/device/pack_lm_data.sh [--cache DIR]      (default: $SIGTRAIN_CACHE or .cache/sigtrain)
set -euo pipefail
cd "$(dirname "$0")/../.."
cache="${SIGTRAIN_CACHE:-.cache/sigtrain}"
[[ "${1:-}" == --cache ]] && { cache="$2"; shift 2; }
corpus="$cache/corpora/gutenberg"
[[ -s "$corpus/MANIFEST.tsv" ]] || { echo "pack_lm_data.sh: no corpus at $corpus (scripts/lm/build_gutenberg_corpus.sh)" >&2; exit 1; }
mapfile -t entries < <(find "$cache/lm" -maxdepth 1 -name 'sp-bpe8192-*' -type d 2>/dev/null)
[[ ${#entries[@]} -ge 1 ]] || { echo "pack_lm_data.sh: no tokenised entry $cache/lm/sp-bpe8192-* (run the pair's config once)" >&2; exit 1; }
mkdir -p .device-lm
tar -C "$cache" -cJf .device-lm/corpus.tar.xz corpora/gutenberg
tar -C "$cache" -cJf .device-lm/lm-cache.tar.xz "${entries[@]#"$cache"/}"
grep -qx '/.device-lm/' .gitignore || echo "pack_lm_data.sh: add /.device-lm/ to .gitignore" >&2
du -h .device-lm/*
