#!/usr/bin/env bash
# Builds the speech corpora of docs/speech-data.md into ${SIGTRAIN_CACHE:-.cache/sigtrain}/speech/:
#   asterisk/      the 8 kHz recorded prompts of asterisk-core-sounds-en-wav with their transcripts, as a manifest
#   pocketsphinx/  pocketsphinx-testdata's 5 LibriVox utterances (+ 5 "cards" utterances) in LibriSpeech layout
#   synth/         a multi-voice corpus spoken by espeak-ng and flite, augmented with sox, with train/val manifests
#                  split by voice (the validation voices, and sentences, are never seen in training)
# Idempotent: audio already in place is kept (synth/ is rebuilt only when its settings change); manifests are
# rewritten atomically. Prints what it wrote.
#
# usage: scripts/speech/build_corpus.sh [--utterances N] [--band-limit] [--only asterisk|pocketsphinx|synth] [--jobs N]
#   --utterances N  synthetic utterances (default 600, ~10 s of CPU per 100)
#   --jobs N        synthesis workers (default: the number of cores); the files do not depend on it
#   --band-limit    pass synthetic audio through 8 kHz (telephone band) to match the Asterisk prompts
# Needs: apt-get install -y asterisk-core-sounds-en-wav asterisk-core-sounds-en pocketsphinx-testdata espeak-ng \
#        flite sox libsox-fmt-all
set -euo pipefail

UTTERANCES=600
BAND_LIMIT=0
JOBS=$(nproc 2>/dev/null || echo 1)
ONLY=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --utterances) UTTERANCES="$2"; shift 2 ;;
    --band-limit) BAND_LIMIT=1; shift ;;
    --only) ONLY="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build_corpus.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$UTTERANCES" =~ ^[0-9]+$ ]] || { echo "build_corpus.sh: --utterances needs a number" >&2; exit 2; }
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || { echo "build_corpus.sh: --jobs needs a positive number" >&2; exit 2; }

CACHE="${SIGTRAIN_CACHE:-.cache/sigtrain}"
OUT="$CACHE/speech"
mkdir -p "$OUT"

die() { echo "build_corpus.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "'$1' not found; apt-get install -y $2"; }
# One JSON string body (backslash, quote and tab escaped; the inputs are single lines).
json_escape() { sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' <<<"$1"; }
manifest_line() { printf '{"path": "%s", "duration": %s, "text": "%s"}\n' "$1" "$2" "$(json_escape "$3")"; }
hours() { awk -v s="$1" 'BEGIN { printf "%.1f min", s / 60 }'; }
want() { [[ -z "$ONLY" || "$ONLY" == "$1" ]]; }

need soxi "sox libsox-fmt-all"

# ---------------------------------------------------------------------------------------------------------------
# (a) Asterisk prompts: core-sounds-en.txt lines "name: text"; bracketed texts are non-speech (beeps, tones).
# ---------------------------------------------------------------------------------------------------------------
build_asterisk() {
  local src=/usr/share/asterisk/sounds/en_US_f_Allison
  local txt=/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz
  [[ -d "$src" ]] || die "$src missing; apt-get install -y asterisk-core-sounds-en-wav"
  [[ -f "$txt" ]] || die "$txt missing; apt-get install -y asterisk-core-sounds-en"
  local dest="$OUT/asterisk" n=0 nonspeech=0 missing=0 seconds=0 line name text wav dur
  mkdir -p "$dest/wav"
  : > "$dest/manifest.jsonl.tmp"
  while IFS= read -r line; do
    line="${line%$'\r'}"
    [[ -z "$line" || "$line" == \;* || "$line" != *": "* ]] && continue
    name="${line%%: *}"
    text="${line#*: }"
    if [[ "$text" == \[* ]]; then nonspeech=$((nonspeech + 1)); continue; fi
    [[ -f "$src/$name.wav" ]] || { missing=$((missing + 1)); continue; }
    wav="wav/$name.wav"
    mkdir -p "$(dirname "$dest/$wav")"
    [[ -f "$dest/$wav" ]] || cp "$src/$name.wav" "$dest/$wav"
    dur=$(soxi -D "$dest/$wav")
    manifest_line "$wav" "$dur" "$text" >> "$dest/manifest.jsonl.tmp"
    n=$((n + 1))
    seconds=$(awk -v a="$seconds" -v b="$dur" 'BEGIN { print a + b }')
  done < <(zcat "$txt")
  mv "$dest/manifest.jsonl.tmp" "$dest/manifest.jsonl"
  echo "asterisk:     $dest/manifest.jsonl: $n prompts, $(hours "$seconds"), 8 kHz, 1 speaker" \
       "($nonspeech non-speech entries and $missing without a .wav skipped)"
}

# ---------------------------------------------------------------------------------------------------------------
# (b) pocketsphinx-testdata in LibriSpeech layout. Speaker/chapter numbers are ours: 1/1 = the LibriVox reader of
#     Sense and Sensibility, 2/1 = the "cards" speaker. Transcripts upper-cased, <s> </s> dropped.
# ---------------------------------------------------------------------------------------------------------------
build_pocketsphinx() {
  local base=/usr/share/pocketsphinx/test/data
  [[ -f "$base/librivox/transcription" ]] || die "$base missing; apt-get install -y pocketsphinx-testdata"
  local dest="$OUT/pocketsphinx" n=0
  # args: source folder, transcription file, speaker, chapter, id prefix to strip from the file id
  convert_set() {
    local folder="$1" transcription="$2" spk="$3" chap="$4" line text fileid utt
    local dir="$dest/$spk/$chap" trans="$dest/$spk/$chap/$spk-$chap.trans.txt"
    mkdir -p "$dir"
    : > "$trans.tmp"
    while IFS= read -r line; do
      fileid="${line##*(}"; fileid="${fileid%)*}"
      text="${line%(*}"; text="${text//<s>/}"; text="${text//<\/s>/}"
      text=$(tr '[:lower:]' '[:upper:]' <<<"$text" | tr -s ' ' | sed -e 's/^ //' -e 's/ $//')
      utt="${fileid##*-}"
      [[ -f "$dir/$spk-$chap-$utt.flac" ]] || sox "$folder/$fileid.wav" "$dir/$spk-$chap-$utt.flac"
      echo "$spk-$chap-$utt $text" >> "$trans.tmp"
      n=$((n + 1))
    done < "$transcription"
    mv "$trans.tmp" "$trans"
  }
  convert_set "$base/librivox" "$base/librivox/transcription" 1 1
  convert_set "$base/cards" "$base/cards/cards.transcription" 2 1
  echo "pocketsphinx: $dest/: $n utterances in LibriSpeech layout (2 speakers, 16 kHz FLAC)"
}

# ---------------------------------------------------------------------------------------------------------------
# (c) Synthetic multi-voice corpus.
# ---------------------------------------------------------------------------------------------------------------
# Voice configurations: espeak-ng "<accent>+<variant>" or "flite:<voice>". The validation voices share neither
# accent nor voice with training ones.
TRAIN_VOICES=(en-us+m1 en-us+f2 en-us-nyc+m3 en-gb+f1 en-gb+m4 en-gb-x-rp+f3 en-gb-x-rp+m2 en-gb-x-gbclan+f4
              en-gb-x-gbcwmd+m5 en-029+m6 en-029+f5 flite:kal flite:awb flite:rms)
VAL_VOICES=(en-gb-scotland+m7 en-gb-scotland+f2 flite:slt)

BUILTIN_SENTENCES=(
  "the quick brown fox jumps over the lazy dog"
  "please leave your message after the tone"
  "the train to the north leaves at seven in the morning"
  "she sold her old bicycle to a neighbour last summer"
  "a cold wind blew across the empty harbour"
  "we will meet again when the rain has stopped"
  "the library closes early on sundays"
  "he poured a cup of tea and opened the letter"
  "nobody knew where the old map had come from"
  "turn left at the bridge and walk for ten minutes"
  "the children were singing in the garden"
  "my brother plays the violin every evening"
  "the price of bread went up again this week"
  "they painted the kitchen a pale shade of green"
  "an owl was calling somewhere in the dark wood"
  "the meeting has been moved to thursday afternoon"
  "write your name at the top of the page"
  "the ship sailed slowly out of the bay"
  "i can't find the keys to the front door"
  "the farmer counted his sheep twice before sunset"
  "a small boat drifted past the lighthouse"
  "the doctor said it's nothing to worry about"
  "our flight was delayed by almost three hours"
  "the river froze during the longest winter in years"
)

# Sentences from KJV when fetched (scripts/fetch_data.sh), else the built-in list: 4 to 16 words, letters and
# basic punctuation only, spread over the whole text.
load_sentences() {
  local kjv="$CACHE/corpora/kjv.txt"
  SENTENCES=()
  if [[ -f "$kjv" ]]; then
    SENTENCE_SOURCE="$kjv"
    local -a candidates
    mapfile -t candidates < <(sed -e 's/[;:]/,/g' "$kjv" | tr -d '\r' | grep -E "^[A-Za-z ,.'?!]+$" |
                              awk 'NF >= 4 && NF <= 16')
    # 4,000 of them (or all, if fewer), evenly spaced over the text.
    local n=${#candidates[@]} want=4000 j
    ((n < want)) && want=$n
    for ((j = 0; j < want; j++)); do SENTENCES+=("${candidates[$((j * n / want))]}"); done
  fi
  if [[ ${#SENTENCES[@]} -lt 40 ]]; then
    SENTENCE_SOURCE="built-in list"
    SENTENCES=("${BUILTIN_SENTENCES[@]}")
  fi
}

speak() {  # voice, text, pitch index, speed index, out.wav
  local voice="$1" text="$2" p="$3" s="$4" out="$5"
  if [[ "$voice" == flite:* ]]; then
    local stretch=(0.9 1.0 1.15)
    flite -voice "${voice#flite:}" --setf duration_stretch="${stretch[$s]}" -t "$text" -o "$out"
  else
    local pitch=(35 50 70) speed=(140 165 195)
    espeak-ng -v "$voice" -p "${pitch[$p]}" -s "${speed[$s]}" -w "$out" "$text"
  fi
}

# One utterance: speak, then tempo, gain, (band limit), 16 kHz, and noise with sox. sox runs with -R ("repeatable":
# fixed seeds for its dither and noise), so the same settings give the same files on every machine.
synth_one() {  # voice sentence pitch_index speed_index tempo gain noise out.wav scratch_dir
  local voice="$1" sentence="$2" p="$3" s="$4" tempo="$5" gain="$6" noise="$7" out="$8" work="$9"
  speak "$voice" "$sentence" "$p" "$s" "$work/raw.wav" >/dev/null 2>&1 || { echo "speaking with '$voice' failed: $sentence"; return 1; }
  local band=()
  ((BAND_LIMIT)) && band=(rate 8k)
  sox -R "$work/raw.wav" -b 16 -c 1 "$work/clean.wav" tempo "$tempo" gain -n "$gain" "${band[@]}" rate 16k || return 1
  if [[ "$noise" == 0 ]]; then
    mv "$work/clean.wav" "$work/final.wav"
  else
    sox -R "$work/clean.wav" -p synth whitenoise vol "$noise" |
      sox -R -m -v 1 "$work/clean.wav" -v 1 -t sox - -b 16 "$work/final.wav" || return 1
  fi
  mkdir -p "$(dirname "$out")"
  mv "$work/final.wav" "$out"
}

build_synth() {
  need espeak-ng espeak-ng
  need flite flite
  load_sentences
  local dest="$OUT/synth"
  local settings="utterances=$UTTERANCES band_limit=$BAND_LIMIT sentences=$SENTENCE_SOURCE:${#SENTENCES[@]} v3"
  if [[ -f "$dest/settings.txt" && "$(cat "$dest/settings.txt")" != "$settings" ]]; then
    echo "synth:        settings changed, rebuilding $dest"
    rm -rf "$dest/wav"
  fi
  mkdir -p "$dest/wav"
  echo "$settings" > "$dest/settings.txt"

  # Sentences: the last tenth is reserved for the validation voices, so validation text is unseen too.
  local n_sent=${#SENTENCES[@]} n_val_sent=$(( ${#SENTENCES[@]} / 10 > 0 ? ${#SENTENCES[@]} / 10 : 1 ))
  local n_train_sent=$((n_sent - n_val_sent))
  local voices=("${TRAIN_VOICES[@]}" "${VAL_VOICES[@]}") n_voices=$(( ${#TRAIN_VOICES[@]} + ${#VAL_VOICES[@]} ))
  local tempos=(0.9 1.0 1.1) gains=(-9 -6 -3) noises=(0 0.003 0.01)
  local tmp; tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  # The plan, one utterance per line (index, split, voice, knobs, file, sentence); the augmentation knobs cycle
  # with different periods, so voices meet every combination.
  local i
  for ((i = 0; i < UTTERANCES; i++)); do
    local v=$((i % n_voices)) round=$((i / n_voices)) voice sentence split
    voice="${voices[$v]}"
    if ((v >= ${#TRAIN_VOICES[@]})); then
      split=val; sentence="${SENTENCES[$((n_train_sent + (round * 7 + v) % n_val_sent))]}"
    else
      split=train; sentence="${SENTENCES[$(((round * 131 + v * 17) % n_train_sent))]}"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$split" "$voice" $((i % 3)) $(((i / 3) % 3)) \
      "${tempos[$(((i / 9) % 3))]}" "${gains[$(((i / 2) % 3))]}" "${noises[$(((i / 5) % 3))]}" "$sentence"
  done > "$tmp/plan.tsv"

  # Synthesis on JOBS workers (worker k takes the lines k, k + JOBS, ...); each writes the duration of its files.
  local k
  for ((k = 0; k < JOBS; k++)); do
    (
      mkdir -p "$tmp/w$k"
      awk -v n="$JOBS" -v k="$k" '(NR - 1) % n == k' "$tmp/plan.tsv" |
      while IFS=$'\t' read -r i split voice p s tempo gain noise sentence; do
        local wav; wav="wav/${voice//[:+]/_}/$(printf '%06d' "$i").wav"
        if [[ ! -f "$dest/$wav" ]]; then
          synth_one "$voice" "$sentence" "$p" "$s" "$tempo" "$gain" "$noise" "$dest/$wav" "$tmp/w$k" \
            > "$tmp/w$k/error" 2>&1 || { cat "$tmp/w$k/error" > "$tmp/failed.$k"; exit 1; }
        fi
        printf '%s\t%s\n' "$i" "$(soxi -D "$dest/$wav")" >> "$tmp/durations.$k"
      done
    ) &
  done
  wait
  if compgen -G "$tmp/failed.*" > /dev/null; then
    die "synthesis failed: $(cat "$tmp"/failed.* | head -n 3)"
  fi
  sort -n "$tmp"/durations.* > "$tmp/durations.tsv"

  : > "$dest/train.jsonl.tmp"
  : > "$dest/val.jsonl.tmp"
  local n_train=0 n_val=0 sec_train=0 sec_val=0 dur_i dur split voice p s tempo gain noise sentence wav
  while IFS=$'\t' read -r i split voice p s tempo gain noise sentence && IFS=$'\t' read -r dur_i dur <&3; do
    [[ "$i" == "$dur_i" ]] || die "internal: duration of utterance $dur_i where $i was expected"
    wav="wav/${voice//[:+]/_}/$(printf '%06d' "$i").wav"
    manifest_line "$wav" "$dur" "$sentence" >> "$dest/$split.jsonl.tmp"
    if [[ $split == train ]]; then
      n_train=$((n_train + 1)); sec_train=$(awk -v a="$sec_train" -v b="$dur" 'BEGIN { print a + b }')
    else
      n_val=$((n_val + 1)); sec_val=$(awk -v a="$sec_val" -v b="$dur" 'BEGIN { print a + b }')
    fi
  done < "$tmp/plan.tsv" 3< "$tmp/durations.tsv"
  mv "$dest/train.jsonl.tmp" "$dest/train.jsonl"
  mv "$dest/val.jsonl.tmp" "$dest/val.jsonl"
  { echo "train: ${TRAIN_VOICES[*]}"; echo "val: ${VAL_VOICES[*]}"; } > "$dest/voices.txt"
  echo "synth:        $dest/train.jsonl: $n_train utterances, $(hours "$sec_train"), ${#TRAIN_VOICES[@]} voices"
  echo "synth:        $dest/val.jsonl: $n_val utterances, $(hours "$sec_val"), ${#VAL_VOICES[@]} unseen voices" \
       "(sentences: $SENTENCE_SOURCE, ${n_val_sent} of ${n_sent} held out for validation)"
}

want asterisk && build_asterisk
want pocketsphinx && build_pocketsphinx
want synth && build_synth
exit 0
