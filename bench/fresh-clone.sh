# Sourced by bench/first-run.sh and bench/first-demo.sh: what a new machine starts from.
# fresh_clone DIR clones the current commit into DIR/clone and, unless WARM_CRATES is set, gives
# cargo a new, empty CARGO_HOME in DIR (the toolchain stays where rustup put it). It sets
# COMMIT, `crates` (cold or warm, for the result) and `missing` (the system packages `./dev`
# would install, read from its APT_PACKAGES).
fresh_clone() {
    local dir=$1 p
    COMMIT=$(git rev-parse --short HEAD)
    git clone -q . "$dir/clone"
    git -C "$dir/clone" checkout -q "$COMMIT"
    if [ -z "${WARM_CRATES:-}" ] && [ -d "${CARGO_HOME:-$HOME/.cargo}/registry" ]; then
        export RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
        export CARGO_HOME="$dir/cargo-home"
        mkdir -p "$CARGO_HOME"
        PATH="$(dirname "$(command -v cargo)"):$PATH"
    fi
    crates=$([ -d "${CARGO_HOME:-$HOME/.cargo}/registry" ] && echo "warm (${CARGO_HOME:-$HOME/.cargo}/registry present)" || echo "cold (no downloaded crates)")
    missing=()
    while read -r p; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done < <(sed -n '/^APT_PACKAGES=(/,/^)/p' dev | grep -v '[()]' | tr ' ' '\n' | grep -v '^$')
}
