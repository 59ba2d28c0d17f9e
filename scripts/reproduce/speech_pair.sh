#!/usr/bin/env bash
# Softmax vs sigmoid CTC speech encoder on the synthetic multi-voice corpus (docs/speech.md, docs/speech-data.md
# §4): a 12 x 384 encoder, 4000 steps, softmax through sdpa vs sigmoid through the fused kernels
# (configs/speech/synth_{softmax,sigmoid}.yaml); the report adds WER and CER.
#
#   scripts/fetch_data.sh && scripts/speech/build_corpus.sh --only synth --utterances 6000   # the corpus, once
#   scripts/reproduce/speech_pair.sh                  # seeds 1337 1338 -> runs/reproduce/speech_pair/
#   SMOKE=1 scripts/reproduce/speech_pair.sh          # a tiny CPU version on the five committed recordings
# Every setting: scripts/reproduce/lib.sh (--help).
source "$(dirname "$0")/lib.sh"
EXPERIMENT=speech_pair
DEFAULT_SEEDS="1337 1338"
repro_arm softmax configs/speech/synth_softmax.yaml
repro_arm sigmoid configs/speech/synth_sigmoid.yaml
DEFAULT_CKPT_SETS="checkpoint.every=500 checkpoint.keep_last=1 checkpoint.save_final=true"
fixture=$REPO_ROOT/tests/fixtures/speech/manifest.jsonl
SMOKE_SETS=("${REPRO_SMOKE_SETS[@]}" "data.path=$fixture" "data.val_path=$fixture" data.max_duration_s=4
            "data.buckets=[]" data.max_frames_per_batch=2000 data.workers=1 data.prefetch=2
            data.specaugment.enabled=false model.n_layer=2 model.d_model=96 model.n_head=4 model.dropout=0
            model.speech.conv_channels=16 train.global_batch_tokens=490 train.micro_batch_size=5 eval.batch_size=5)
repro_main "$@"
