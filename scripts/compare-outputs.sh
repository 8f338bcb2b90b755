#!/usr/bin/env bash
# Proves two t3sim builds give the same outputs: runs both, with identical
# arguments and inputs, each in its own output root, over every shipped trace
# in every mode and the other commands, and compares every file they write
# and every stdout / stderr / exit code byte for byte.
#
#   scripts/compare-outputs.sh [options] OLD NEW
#
# OLD and NEW are each a t3sim binary or a git revision of this repository.
# A revision is checked out in a git worktree under the cache dir and built
# with `cargo build --release --features rtl` (without the feature when
# `verilator` is not on PATH); the binary is kept there as
# bin/t3sim-<commit>-<rtl|nortl>, so asking again costs nothing, and the one
# worktree and target dir are reused, so a new revision rebuilds only what
# changed. A revision builds its committed tree: to test uncommitted work,
# `cargo build --release` and pass the binary.
#
# Options:
#   -j N          runs at a time (default 2); each job runs once per binary
#   --quick       a subset for fast iteration: 4 traces, one --all-devices
#                 replay, a one-trace paper, small DRAM traces, a reduced sweep
#   --keep        keep the output roots (they are also kept when anything
#                 differs; removed when everything is identical)
#   --work DIR    put the output roots there (default: a new temp dir)
#   --cache DIR   build and DRAM-trace cache (default: target/compare-cache)
#   --only REGEX  only the jobs whose name matches (bash regex), e.g. '^mem/'
#   --list        list the jobs and exit
#   --no-masks    compare without the masks below (shows which are needed)
#   -h, --help
#
# Exit: 0 every file identical; 1 something differs (or a binary was killed);
# 2 usage error, or the comparison could not be set up (bad revision, a
# build that fails, a missing input).
#
# What runs (the same commands for both binaries; `--list` prints them):
#   replay/<trace>          every traces/*.json: replay --out out --plots, all modes
#   replay-all-devices/...  two tp-8 traces with --all-devices (no symmetric shortcut)
#   replay-skew/...         a copy of mega-gpt2-tp8-op with one compute, one link and
#                           one memory override (the non-symmetric path)
#   replay-variants/...     --json on stdout, --preset hbm2-stack, --set overrides,
#                           single modes
#   replay-chakra/...       replays of imported Chakra all-reduce / all-gather traces
#                           (no GEMM: RS and AG of plain buffers)
#   plot-report             two replays, then `plot report` of both
#   paper                   paper --out out (every sub-layer; --quick: one)
#   mem/<pattern>.<format>  the standard DRAM traces of /work/shared/tools/
#                           gen_dram_traces.py (both formats), text and --json, on
#                           every preset `presets` lists that `mem` accepts
#   mem-bad                 mem on each malformed trace of tests/bad_inputs/mem_traces
#   sweep/example           examples/sweeps/link-hbm-tracker.toml, then plot sweep
#                           (lines and heatmap)
#   sweep/sharded           the same spec in 3 shards, then sweep merge
#   sweep/modes             every mode over a trace list (one skewed), closed page
#   cosim/replay            replay --modes t3-mca --cosim tracker,nmc,arbiter, and
#                           --cosim all on every device of a small ring (only when
#                           both binaries have the rtl feature; else "skipped")
#   cosim/blocks            cosim --block all (random stimulus)
#   trace/*                 trace gen (--all and single), trace check (shipped and
#                           malformed), trace import --chakra of every set in
#                           /work/shared/data/chakra
#   config                  presets, presets --show, config check (good and bad)
#
# Inputs are copied (traces, sweeps, bad inputs) into <work>/in and passed by
# the same absolute path to both binaries; each command runs in
# <work>/<old|new>/<job> and writes its outputs under relative paths, so no
# path differs between the two roots and none needs masking. Both binaries
# are copied to <work>/bin/<old|new>/t3sim so argv[0] (which clap prints in
# usage messages) is the same.
#
# Masks: the only text replaced before comparing, each a figure about the
# run itself, not the simulation. Found by running one binary twice with
# --no-masks and diffing; the table is MASKS in scripts/compare_outputs.py
# (`python3 scripts/compare_outputs.py masks` prints it):
#   replay-wall         *.stdout: replay's header "... on PRESET — 8.6 s wall":
#                       the replay's wall-clock time.
#   paper-elapsed       *.stdout, summary.md: paper's "# t3sim paper: N sub-layers,
#                       M modes (93.1 s)": wall-clock time of the paper run.
#   paper-note-elapsed  *.stderr: paper's note "replayed N sub-layers in 93.1 s;".
#   cosim-note-elapsed  *.stderr: "cosim BLOCK (MODE): ... no divergence (1.8 s)":
#                       wall time of the RTL checker.
#   cosim-wall-s        report.json, *.stdout: "wall_s": 1.83 in the report's cosim
#                       entries: the same wall time.
#   sweep-note-elapsed  *.stderr: sweep's note "wrote F (SPEC: 32 points; 32 run in
#                       0.4 s)": wall time of the sweep.
#   cosim-cmd-rate      *.stdout: `cosim`'s "tracker 200000 cycles, seed 1, no
#                       divergence (0.80 M cycles/s)": cycles per wall second.
# Every other byte, PNGs included, must be identical.
#
# Cost: the full run (56 jobs, 168 commands per binary, 1620 files) takes
# 30 CPU-minutes, so about 15 min on two idle cores; it took 42 min on the
# shared 2-core machine at load 11. The paper and the tp-32 replays are most
# of it. --quick takes 1.5-2 min.

# The whole script is one compound command, read before any of it runs, so
# editing the file while a comparison runs does not change that run.
{
set -uo pipefail
shopt -s nullglob

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
HELPER=$SCRIPT_DIR/compare_outputs.py
DRAM_GEN=${COMPARE_DRAM_GEN:-/work/shared/tools/gen_dram_traces.py}
CHAKRA=${COMPARE_CHAKRA:-/work/shared/data/chakra}

JOBS=2 QUICK=0 KEEP=0 WORK="" CACHE="" ONLY="" LIST=0 NOMASK=0
START=$EPOCHREALTIME

usage() { sed -n '2,/^# What runs/{/^# What runs/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
usage_error() {
  echo "error: $*" >&2
  echo "usage: scripts/compare-outputs.sh [-j N] [--quick] [--keep] [--work DIR] [--cache DIR] [--only REGEX] [--list] [--no-masks] OLD NEW" >&2
  exit 2
}
setup_error() { echo "error: $*" >&2; exit 2; }
note() { echo "$*" >&2; }
elapsed() { # seconds since $1, as "12m34s" or "5.2 s"
  awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { s = b - a; if (s >= 60) printf "%dm%02ds", s / 60, s % 60; else printf "%.1f s", s }'
}

ARGS=()
while (($#)); do
  case $1 in
    -j) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage_error "-j needs a positive number"; JOBS=$2; shift 2 ;;
    -j*) [[ ${1#-j} =~ ^[1-9][0-9]*$ ]] || usage_error "-j needs a positive number"; JOBS=${1#-j}; shift ;;
    --quick) QUICK=1; shift ;;
    --keep) KEEP=1; shift ;;
    --work) [[ -n ${2:-} ]] || usage_error "--work needs a directory"; WORK=$2; shift 2 ;;
    --cache) [[ -n ${2:-} ]] || usage_error "--cache needs a directory"; CACHE=$2; shift 2 ;;
    --only) [[ -n ${2:-} ]] || usage_error "--only needs a regex"; ONLY=$2; shift 2 ;;
    --list) LIST=1; shift ;;
    --no-masks) NOMASK=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; ARGS+=("$@"); break ;;
    -*) usage_error "unknown option $1" ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
((${#ARGS[@]} == 2 || LIST)) || usage_error "expected OLD and NEW (a t3sim binary or a git revision each), got ${#ARGS[@]} argument(s)"
for tool in python3 git setsid flock; do
  command -v $tool >/dev/null || setup_error "$tool not found on PATH"
done
CACHE=$(mkdir -p "${CACHE:-$REPO/target/compare-cache}" && cd "${CACHE:-$REPO/target/compare-cache}" && pwd)

# ---- binaries -------------------------------------------------------------

FEATURE=nortl
command -v verilator >/dev/null && FEATURE=rtl

# Builds commit $1 (once; cached) and prints the binary's path.
build_rev() {
  local sha=$1 bin=$CACHE/bin/t3sim-$1-$FEATURE
  if [[ -x $bin ]]; then echo "$bin"; return 0; fi
  mkdir -p "$CACHE/bin" "$CACHE/logs"
  local log=$CACHE/logs/build-$sha-$FEATURE.log wt=$CACHE/worktree
  (
    flock 9
    [[ -x $bin ]] && exit 0
    note "building $sha ($FEATURE) in $wt; log $log"
    if [[ -e $wt/.git ]]; then
      git -C "$wt" checkout -q --detach --force "$sha" || exit 1
    else
      rm -rf "$wt"
      git -C "$REPO" worktree prune
      git -C "$REPO" worktree add -q --detach "$wt" "$sha" || exit 1
    fi
    local feat=()
    [[ $FEATURE == rtl ]] && feat=(--features rtl)
    local t0=$EPOCHREALTIME
    (cd "$wt" && CARGO_TARGET_DIR=$CACHE/target cargo build --release --locked "${feat[@]}") >"$log" 2>&1 || {
      tail -n 30 "$log" >&2
      exit 1
    }
    cp "$CACHE/target/release/t3sim" "$bin.tmp" && mv "$bin.tmp" "$bin"
    note "built $sha in $(elapsed "$t0")"
  ) 9>"$CACHE/build.lock" || setup_error "building revision $sha failed (log: $log)"
  echo "$bin"
}

# Prints the path of the binary OLD or NEW names.
resolve() {
  local spec=$1 sha
  if [[ -f $spec ]]; then
    [[ -x $spec ]] || setup_error "$spec is not executable"
    echo "$(cd "$(dirname "$spec")" && pwd)/$(basename "$spec")"
  elif sha=$(git -C "$REPO" rev-parse --verify -q "$spec^{commit}"); then
    build_rev "$sha" || exit 2
  else
    usage_error "$spec is neither a file nor a git revision of $REPO"
  fi
}

if ((LIST == 0)); then
  OLD_BIN=$(resolve "${ARGS[0]}") || exit 2
  NEW_BIN=$(resolve "${ARGS[1]}") || exit 2
fi

# ---- work dir and inputs ---------------------------------------------------

if [[ -z $WORK ]]; then
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/compare-outputs.XXXXXX")
else
  [[ ! -e $WORK || -z $(ls -A "$WORK") ]] || usage_error "--work $WORK exists and is not empty"
  mkdir -p "$WORK" && WORK=$(cd "$WORK" && pwd)
fi
IN=$WORK/in
mkdir -p "$IN"/{traces,sweeps,extra} "$WORK"/{bin/old,bin/new,jobs,state,meta}
cp "$REPO"/traces/*.json "$IN/traces/"
cp "$REPO"/examples/sweeps/* "$IN/sweeps/"
cp -r "$REPO/tests/bad_inputs" "$IN/bad"
cp -r "$REPO/presets" "$IN/presets"
python3 "$HELPER" skew-trace "$IN/traces/mega-gpt2-tp8-op.json" "$IN/extra/mega-gpt2-tp8-op-skew.json"
python3 "$HELPER" skew-trace "$IN/sweeps/mega-gpt2-tp4-op-t128.json" "$IN/sweeps/mega-gpt2-tp4-op-t128-skew.json"
echo "LD 0x0" >"$IN/extra/one.ramulator.trace"

# A sweep of every mode over two traces (one non-symmetric) and both page policies.
cat >"$IN/sweeps/modes.toml" <<'EOF'
modes = ["sequential", "ideal", "rs-nmc", "t3", "t3-mca", "sw-overlap"]

[base]
trace = "mega-gpt2-tp4-op-t128.json"
preset = "t3-asplos24"

[params]
trace = ["mega-gpt2-tp4-op-t128.json", "mega-gpt2-tp4-op-t128-skew.json"]
"mem.controller.page_policy" = ["open", "closed"]
EOF

if ((LIST == 0)); then
  cp "$OLD_BIN" "$WORK/bin/old/t3sim"
  cp "$NEW_BIN" "$WORK/bin/new/t3sim"
  OLD=$WORK/bin/old/t3sim NEW=$WORK/bin/new/t3sim
  has_rtl() { (cd "$WORK/meta" && "$1" -q cosim --block tracker --cycles 1 >/dev/null 2>&1); }
  OLD_RTL=no NEW_RTL=no
  has_rtl "$OLD" && OLD_RTL=yes
  has_rtl "$NEW" && NEW_RTL=yes
  note "old: ${ARGS[0]} -> $OLD_BIN (rtl: $OLD_RTL)"
  note "new: ${ARGS[1]} -> $NEW_BIN (rtl: $NEW_RTL)"
  [[ $OLD_RTL == "$NEW_RTL" ]] || note "warning: one binary has the rtl feature and the other not; the cosim jobs are skipped"
  # The presets `mem` accepts, as the old binary lists them.
  MEM_PRESETS=()
  for p in $("$OLD" presets | awk '{print $1}'); do
    if (cd "$WORK/meta" && "$OLD" -q mem "$IN/extra/one.ramulator.trace" --format ramulator --preset "$p" >/dev/null 2>&1); then
      MEM_PRESETS+=("$p")
    else
      note "mem: preset $p not accepted by mem, left out"
    fi
  done
  ((${#MEM_PRESETS[@]})) || setup_error "mem accepts none of the presets the old binary lists"
else
  OLD_RTL=yes NEW_RTL=yes MEM_PRESETS=(hbm2-stack t3-asplos24)
fi

# The standard DRAM traces, generated once per generator version and size.
DRAM=""
if [[ -f $DRAM_GEN ]]; then
  if ((QUICK)); then DRAM_ARGS=(--lines 100000 --lat-lines 20000); else DRAM_ARGS=(); fi
  key=$( (cat "$DRAM_GEN"; echo "${DRAM_ARGS[*]}") | sha1sum | cut -c1-12)
  DRAM=$CACHE/dram/$key
  if ((LIST == 0)) && [[ ! -e $DRAM/done ]]; then
    note "generating the standard DRAM traces into $DRAM (${DRAM_ARGS[*]:-default sizes})"
    rm -rf "$DRAM.tmp" && mkdir -p "$DRAM.tmp"
    python3 "$DRAM_GEN" --out "$DRAM.tmp" "${DRAM_ARGS[@]}" >/dev/null || setup_error "$DRAM_GEN failed"
    touch "$DRAM.tmp/done" && rm -rf "$DRAM" && mv "$DRAM.tmp" "$DRAM"
  fi
else
  note "skipped mem on the standard DRAM traces: $DRAM_GEN not found"
  DRAM_SKIPPED="mem/*: skipped: $DRAM_GEN not found"
fi

# ---- jobs -----------------------------------------------------------------
# A job is a bash fragment run in <work>/<side>/<job> with IN set; `run LABEL
# ARGS...` runs t3sim ARGS and keeps LABEL.stdout, LABEL.stderr, LABEL.rc.

JOB_NAMES=()
add_job() { # NAME, body on stdin
  [[ -n $ONLY && ! $1 =~ $ONLY ]] && { cat >/dev/null; return 0; }
  mkdir -p "$(dirname "$WORK/jobs/$1.sh")"
  cat >"$WORK/jobs/$1.sh"
  JOB_NAMES+=("$1")
}
SKIPPED=()
[[ -n ${DRAM_SKIPPED:-} ]] && SKIPPED+=("$DRAM_SKIPPED")

# Without the symmetric shortcut every device is simulated (tp times the
# work), so --quick takes the 4-device example trace for those.
if ((QUICK)); then
  REPLAY_TRACES=(mega-gpt2-tp8-op mega-gpt2-tp8-fc2 tnlg-tp8-ip mega-gpt2-tp16-fc1)
  ALL_DEVICES=(sweeps/mega-gpt2-tp4-op-t128)
  SKEW=sweeps/mega-gpt2-tp4-op-t128-skew
else
  mapfile -t REPLAY_TRACES < <(python3 "$HELPER" order-traces "$IN"/traces/*.json | xargs -n1 basename | sed 's/\.json$//')
  ALL_DEVICES=(traces/mega-gpt2-tp8-op traces/mega-gpt2-tp8-fc1)
  SKEW=extra/mega-gpt2-tp8-op-skew
fi

# The paper replays every trace in one process: the longest job, so first.
if ((QUICK)); then
  add_job paper <<'EOF'
run paper paper --traces "$IN/traces" --only mega-gpt2-tp8-op --out out
EOF
else
  add_job paper <<'EOF'
run paper paper --traces "$IN/traces" --out out
EOF
fi

for t in "${REPLAY_TRACES[@]}"; do
  add_job "replay/$t" <<EOF
run replay replay "\$IN/traces/$t.json" --out out --plots
EOF
done
for t in "${ALL_DEVICES[@]}"; do
  add_job "replay-all-devices/${t#*/}" <<EOF
run replay replay "\$IN/$t.json" --all-devices --out out --plots
EOF
done
add_job "replay-skew/${SKEW#*/}" <<EOF
run replay replay "\$IN/$SKEW.json" --out out --plots
EOF
add_job replay-variants/mega-gpt2-tp8-op <<'EOF'
t="$IN/traces/mega-gpt2-tp8-op.json"
run json replay "$t" --json
run hbm2-stack replay "$t" --preset hbm2-stack --out hbm2-stack
run set replay "$t" --set mem.controller.page_policy=closed --set t3.tracker_entries=64 --set link.bw_gbps_per_dir=37.5 --out set
run config replay "$t" --config "$IN/presets/t3-asplos24.toml" --modes t3-mca,sequential --out config
for m in sequential ideal rs-nmc t3 t3-mca sw-overlap; do
  run "mode-$m" replay "$t" --mode "$m" --out "mode-$m"
done
run bad-trace replay "$IN/bad/traces/chunk-not-whole-tiles.json"
run bad-config replay "$t" --config "$IN/bad/configs/tras-below-trcd.toml"
EOF
if [[ -d $CHAKRA ]]; then
  add_job replay-chakra <<EOF
run import-ar trace import --chakra "$CHAKRA/all_reduce/8npus_1MB/all_reduce" --out all_reduce.json
run replay-ar replay all_reduce.json --out ar --plots
run import-ag trace import --chakra "$CHAKRA/all_gather/4npus_1MB/all_gather" --out all_gather.json
run replay-ag replay all_gather.json --all-devices --out ag
EOF
else
  SKIPPED+=("replay-chakra, trace/import: skipped: $CHAKRA not found")
fi
add_job plot-report <<'EOF'
run replay-a replay "$IN/traces/mega-gpt2-tp8-op.json" --modes sequential,t3,t3-mca --out a
run replay-b replay "$IN/traces/tnlg-tp8-op.json" --modes sequential,rs-nmc,t3 --out b
run plot plot report a/report.json b/report.json --out plots
EOF

if [[ -n $DRAM ]]; then
  for pattern in stream_read stream_write rand_read rand_mixed lat_read; do
    for fmt in dramsim3 ramulator; do
      add_job "mem/$pattern.$fmt" < <(
        for p in "${MEM_PRESETS[@]}"; do
          echo "run $p-text mem \"$DRAM/$pattern.$fmt.trace\" --format $fmt --preset $p"
          echo "run $p-json mem \"$DRAM/$pattern.$fmt.trace\" --format $fmt --preset $p --json"
        done
      )
    done
  done
  add_job mem/variants <<EOF
run closed mem "$DRAM/rand_read.dramsim3.trace" --format dramsim3 --set mem.controller.page_policy=closed
run config mem "$DRAM/stream_write.ramulator.trace" --format ramulator --config "\$IN/presets/hbm2-stack.toml" --json
EOF
fi
add_job mem-bad <<'EOF'
for f in "$IN"/bad/mem_traces/*; do
  b=$(basename "$f")
  case $b in ds-*) fmt=dramsim3 ;; *) fmt=ramulator ;; esac
  run "${b%.trace}" mem "$f" --format "$fmt"
done
EOF

if ((QUICK)); then
  cat >"$IN/sweeps/reduced.toml" <<'EOF'
modes = ["t3"]

[base]
trace = "mega-gpt2-tp4-op-t128.json"
preset = "t3-asplos24"

[params]
"link.bw_gbps_per_dir" = [18.75, 150]
"mem.stacks" = [1, 4]
"t3.tracker_entries" = [64, 256]
EOF
  SPEC='$IN/sweeps/reduced.toml'
else
  SPEC='$IN/sweeps/link-hbm-tracker.toml'
fi
add_job sweep/example <<EOF
run sweep sweep "$SPEC" --out results.csv
run stdout sweep "$SPEC" --threads 1
run plot-lines plot sweep results.csv --x link.bw_gbps_per_dir --series mem.stacks --filter t3.tracker_entries=256 --out bw
run plot-heatmap plot sweep results.csv --heatmap --x link.bw_gbps_per_dir --y mem.stacks --filter t3.tracker_entries=64 --out heat
EOF
add_job sweep/sharded <<EOF
for i in 0 1 2; do run "shard-\$i" sweep "$SPEC" --shard "\$i/3" --threads 1 --out "parts/part-\$i.csv"; done
run merge sweep merge parts/part-2.csv parts/part-0.csv parts/part-1.csv --out merged.csv
run merge-missing sweep merge parts/part-0.csv parts/part-1.csv --out missing.csv
EOF
add_job sweep/modes <<'EOF'
run sweep sweep "$IN/sweeps/modes.toml" --out modes.csv
run plot plot sweep modes.csv --x mem.controller.page_policy --series mode --filter trace=mega-gpt2-tp4-op-t128-skew.json --out modes
EOF

if [[ $OLD_RTL == yes && $NEW_RTL == yes ]]; then
  add_job cosim/replay <<'EOF'
run t3-mca replay "$IN/traces/mega-gpt2-tp8-op.json" --modes t3-mca --cosim tracker,nmc,arbiter --out out
run all-devices replay "$IN/sweeps/mega-gpt2-tp4-op-t128.json" --modes rs-nmc,t3,t3-mca --cosim all --all-devices --cosim-seed 7 --out all
run skew replay "$IN/sweeps/mega-gpt2-tp4-op-t128-skew.json" --modes t3,t3-mca --cosim all --out skew
EOF
  add_job cosim/blocks <<'EOF'
run all cosim --block all --cycles 200000 --seed 3 --out vcd
EOF
else
  SKIPPED+=("cosim/replay, cosim/blocks: skipped: built without rtl (old rtl: $OLD_RTL, new rtl: $NEW_RTL)")
fi

add_job trace/gen <<'EOF'
run all trace gen --all --out-dir gen
run one trace gen --model gpt3 --tp 32 --sublayer op --tokens 4096
run out-dir trace gen --model palm --tp 64 --sublayer fc1 --tokens 4096 --out-dir gen2
run bad trace gen --model tnlg --tp 8 --sublayer fc2 --tokens 1001
EOF
add_job trace/check <<'EOF'
run shipped trace check "$IN"/traces/*.json "$IN"/extra/*.json
run bad trace check "$IN"/bad/traces/*.json
EOF
if [[ -d $CHAKRA ]]; then
  add_job trace/import < <(
    for d in "$CHAKRA"/*/*/; do
      set -- "$d"*.0.et
      (($#)) || continue
      prefix=${1%.0.et}
      label=$(basename "$(dirname "$d")")-$(basename "$d")
      echo "run $label trace import --chakra \"$prefix\" --out $label.json"
      echo "run $label-strict trace import --chakra \"$prefix\" --strict"
    done
  )
fi
add_job config <<'EOF'
run presets presets
for p in hbm2-stack t3-asplos24; do run "show-$p" presets --show "$p"; done
run show-set presets --show t3-asplos24 --set mem.channels_per_stack=16 --set link.bw_gbps_per_dir=150
run check config check "$IN"/presets/*.toml
run check-bad config check "$IN"/bad/configs/*.toml
EOF

if ((LIST)); then
  printf '%s\n' "${JOB_NAMES[@]}"
  for s in "${SKIPPED[@]}"; do echo "$s"; done
  rm -rf "$WORK"
  exit 0
fi
((${#JOB_NAMES[@]})) || usage_error "--only '$ONLY' matches no job"

# ---- running --------------------------------------------------------------

cat >"$WORK/runner.sh" <<'EOF'
# runner.sh WORK SIDE JOB: one job on one binary.
WORK=$1 SIDE=$2 JOB=$3
export IN=$WORK/in T3SIM=$WORK/bin/$SIDE/t3sim
dir=$WORK/$SIDE/$JOB
mkdir -p "$dir" && cd "$dir" || exit 1
cmds=$WORK/meta/$SIDE.$(echo "$JOB" | tr / _).cmds
run() {
  local label=$1
  shift
  printf '%q ' t3sim "$@" >>"$cmds"
  echo >>"$cmds"
  "$T3SIM" "$@" </dev/null >"$label.stdout" 2>"$label.stderr"
  echo $? >"$label.rc"
}
t0=$EPOCHREALTIME
set -u
source "$WORK/jobs/$JOB.sh"
awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }' >"$WORK/state/$SIDE.$(echo "$JOB" | tr / _).done"
EOF

declare -A PID_TASK=() REAPED=()
RUNNER_FAILED=()
TASKS=()
for j in "${JOB_NAMES[@]}"; do TASKS+=("old $j" "new $j"); done
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
NJOBS=${#JOB_NAMES[@]} NEXT=0 COMPARED=0

cleanup_running() {
  for pid in "${!PID_TASK[@]}"; do kill -- "-$pid" 2>/dev/null; done
  echo "interrupted; outputs left in $WORK" >&2
  exit 130
}
trap cleanup_running INT TERM

note "work dir $WORK; $NJOBS jobs x 2 binaries, $JOBS at a time"
RUN_START=$EPOCHREALTIME
while ((NEXT < ${#TASKS[@]} || ${#PID_TASK[@]} > 0)); do
  while ((${#PID_TASK[@]} < JOBS && NEXT < ${#TASKS[@]})); do
    read -r side job <<<"${TASKS[NEXT]}"
    setsid bash "$WORK/runner.sh" "$WORK" "$side" "$job" &
    PID_TASK[$!]="$side $job"
    NEXT=$((NEXT + 1))
  done
  wait -n -p pid
  [[ -n ${pid:-} && -n ${PID_TASK[$pid]:-} ]] || continue
  read -r side job <<<"${PID_TASK[$pid]}"
  unset "PID_TASK[$pid]"
  key=$(echo "$job" | tr / _)
  if [[ ! -f $WORK/state/$side.$key.done ]]; then
    echo "error: the runner of $job on the $side binary failed" >&2
    RUNNER_FAILED+=("$side $job")
    echo nan >"$WORK/state/$side.$key.done"
  fi
  REAPED[$side $job]=1
  [[ -n ${REAPED[old $job]:-} && -n ${REAPED[new $job]:-} ]] || continue
  mask_arg=()
  ((NOMASK)) && mask_arg=(--no-masks)
  verdict=$(python3 "$HELPER" compare "$WORK/old/$job" "$WORK/new/$job" "$job" "$RESULTS" "${mask_arg[@]}") ||
    verdict="comparison failed"
  COMPARED=$((COMPARED + 1))
  printf '[%*d/%d] %-44s %s (old %.1f s, new %.1f s)  %s\n' ${#NJOBS} "$COMPARED" "$NJOBS" "$job" "$verdict" \
    "$(cat "$WORK/state/old.$key.done")" "$(cat "$WORK/state/new.$key.done")" "$(elapsed "$START")"
done
trap - INT TERM

# ---- report ---------------------------------------------------------------

echo
echo "old: ${ARGS[0]} ($OLD_BIN, rtl: $OLD_RTL)"
echo "new: ${ARGS[1]} ($NEW_BIN, rtl: $NEW_RTL)"
((QUICK)) && echo "mode: --quick (a subset)"
((NOMASK)) && echo "masks: off (--no-masks)"
for s in "${SKIPPED[@]}"; do echo "$s"; done
python3 "$HELPER" summary "$RESULTS" "$NJOBS"
status=$?
if ((${#RUNNER_FAILED[@]})); then
  echo "error: ${#RUNNER_FAILED[@]} job runs did not finish: ${RUNNER_FAILED[*]}"
  status=1
fi
job_time() { cat /dev/null "$WORK"/state/"$1".*.done | awk '{ s += $1 } END { printf "%.0f s", s }'; }
echo "job time (each job's wall time, summed; a noisy machine blurs it): old $(job_time old), new $(job_time new)"
echo "took $(elapsed "$START") (runs and comparison $(elapsed "$RUN_START"), -j $JOBS)"
if ((KEEP || status != 0)); then
  echo "outputs kept: $WORK/old, $WORK/new (commands in $WORK/meta)"
else
  rm -rf "$WORK"
fi
exit $status
}
