#!/usr/bin/env bash
# Packs what the GPU machine lacks into .device-slim/ (git-ignored), about half the size of .device/ so that data can
# travel beside it within the device tool's 64 MiB carry:
#   deps.tar.xz   the Debian libraries of ../shared/device/fetch-debs.sh (.device/debs), unpacked, without
#                 documentation and static libraries (the build links the shared ones; GoogleTest's are kept)
#   tools.tar.xz  with --speech-tools: espeak-ng, flite and sox with every library they load (from this machine's
#                 Debian install) and espeak-ng's voice data, to build the synthetic speech corpus there
#                 (scripts/speech/build_corpus.sh)
#   unpack.sh     sourced on the GPU machine, from the project's root, instead of .device/unpack.sh: unpacks into
#                 /opt/deps (and /opt/speech-tools), exports what the build needs (CMAKE_PREFIX_PATH with LibTorch's
#                 config, LD_LIBRARY_PATH, HDF5_ROOT, pkg-config's sysroot) and defines `with_speech_tools CMD...`,
#                 which runs one command with the tools on its PATH (their libraries stay out of everything else).
# usage: ../shared/device/fetch-debs.sh <extra packages> && scripts/device/pack_deps.sh [--speech-tools]
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
SPEECH_TOOLS=0
for arg in "$@"; do
  case "$arg" in
    --speech-tools) SPEECH_TOOLS=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "pack_deps.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
compgen -G ".device/debs/*.deb" > /dev/null || { echo "pack_deps.sh: no .device/debs/*.deb; run ../shared/device/fetch-debs.sh first" >&2; exit 1; }
# What the speech data library links beyond fetch-debs.sh's list: FFTW (single precision) for the log-mel features,
# and the codec -dev packages only for their pkg-config files (sndfile.pc names them in Requires.private, so
# pkg-config refuses sndfile without them).
speech_build_packages=(libfftw3-dev libfftw3-single3 libfftw3-bin libflac-dev libogg-dev libvorbis-dev libopus-dev libmpg123-dev)
( cd .device/debs && apt-get download "${speech_build_packages[@]}" 2>&1 | grep -v -e '^Get:' -e 'unsandboxed' || true )
for pkg in "${speech_build_packages[@]}"; do
  compgen -G ".device/debs/${pkg}_*.deb" > /dev/null || { echo "pack_deps.sh: could not download $pkg (apt-get download $pkg)" >&2; exit 1; }
done
out=.device-slim
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out" && mkdir -p "$out"

mkdir -p "$work/deps"
for deb in .device/debs/*.deb; do dpkg -x "$deb" "$work/deps"; done
# GoogleTest and Google Benchmark come as static libraries only: their CMake configs need them.
find "$work/deps" -name '*.a' ! -name 'libgtest*' ! -name 'libgmock*' ! -name 'libbenchmark*' -delete
rm -rf "$work/deps"/usr/share/{doc,man,info,lintian,bug}
# Libraries the packages bring that sigtrain does not link (it uses FFTW in single precision and ICU's common
# library only); without them the carry has room for the LM pair's corpus and token cache.
rm -f "$work/deps"/usr/lib/x86_64-linux-gnu/lib{fftw3,fftw3_omp,fftw3_threads,fftw3l,fftw3l_omp,fftw3l_threads,fftw3q,fftw3q_omp,fftw3q_threads}.so* \
      "$work/deps"/usr/lib/x86_64-linux-gnu/libicu{i18n,io,test,tu}.so*
tar -C "$work/deps" -cf - . | xz -T0 -6 > "$out/deps.tar.xz"

if ((SPEECH_TOOLS)); then
  for tool in espeak-ng flite sox; do
    command -v "$tool" > /dev/null || { echo "pack_deps.sh: $tool not found; apt-get install -y espeak-ng flite sox" >&2; exit 1; }
  done
  t="$work/tools"
  mkdir -p "$t/bin" "$t/lib" "$t/share"
  for tool in espeak-ng flite sox; do cp "$(command -v "$tool")" "$t/bin/"; done
  ln -s sox "$t/bin/soxi"  # sox acts as soxi when called so
  # Every library the tools load except the C runtime (the GPU machine's newer glibc runs them).
  for tool in espeak-ng flite sox; do
    ldd "$(command -v "$tool")" | awk '/=> \// {print $3}'
  done | sort -u | grep -v -E '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' |
    while read -r lib; do cp -L "$lib" "$t/lib/"; done
  # espeak-ng's data without the other languages' dictionaries (the corpus speaks English only).
  cp -r /usr/lib/x86_64-linux-gnu/espeak-ng-data "$t/share/"
  find "$t/share/espeak-ng-data" -maxdepth 1 -name '*_dict' ! -name 'en_dict' -delete
  tar -C "$t" -cf - . | xz -T0 -6 > "$out/tools.tar.xz"
fi

cat > "$out/unpack.sh" <<'UNPACK'
# sourced on the GPU machine from the project's root (written by scripts/device/pack_deps.sh)
DEPS_PREFIX=/opt/deps
mkdir -p "$DEPS_PREFIX" && tar -C "$DEPS_PREFIX" -xJf .device-slim/deps.tar.xz
export DEPS_PREFIX
export CMAKE_PREFIX_PATH="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)'):$DEPS_PREFIX/usr"
export LD_LIBRARY_PATH="$DEPS_PREFIX/usr/lib/x86_64-linux-gnu:$DEPS_PREFIX/usr/lib/x86_64-linux-gnu/hdf5/serial${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export HDF5_ROOT="$DEPS_PREFIX/usr/lib/x86_64-linux-gnu/hdf5/serial"
export PKG_CONFIG_SYSROOT_DIR="$DEPS_PREFIX"
export PKG_CONFIG_LIBDIR="$DEPS_PREFIX/usr/lib/x86_64-linux-gnu/pkgconfig:$DEPS_PREFIX/usr/share/pkgconfig"
if [[ -f .device-slim/tools.tar.xz ]]; then
  mkdir -p /opt/speech-tools && tar -C /opt/speech-tools -xJf .device-slim/tools.tar.xz
  with_speech_tools() {
    PATH="/opt/speech-tools/bin:$PATH" LD_LIBRARY_PATH=/opt/speech-tools/lib ESPEAK_DATA_PATH=/opt/speech-tools/share "$@"
  }
  export -f with_speech_tools  # scripts started from the sourcing shell (speech_pair.sh) look for it
fi
UNPACK
du -b "$out"/* | awk '{printf "%-28s %6.1f MiB\n", $2, $1 / 1048576}'
du -b "$out" | awk '{printf "total %.1f MiB\n", $1 / 1048576}'
