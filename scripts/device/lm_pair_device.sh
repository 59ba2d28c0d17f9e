#!/usr/bin/env bash
# The LM pair (scripts/reproduce/lm_pair.sh; issue 16) in bounded GPU-machine calls: scripts/device/reproduce_device.sh
# lm_pair (unpacks .device-lm/ from scripts/device/pack_lm_data.sh, cuts every training command at DEADLINE_S, default
# 540 s, and leaves the records in $OUT/lm_pair.tgz).
#   source .device-slim/unpack.sh; scripts/device/lm_pair_device.sh      (carry .device-slim and .device-lm)
exec "$(dirname "$0")/reproduce_device.sh" lm_pair
