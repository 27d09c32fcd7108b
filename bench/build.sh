# The one build the benchmarks that run AWS SDK programs make, the same command as bench/all.sh:
#   . bench/build.sh && bench_build release    (or debug)
# One command for all of them: a different package set (`-p api -p flightdeck`) unifies the
# dependencies' features differently, and cargo then builds the AWS SDK again for each set;
# with this one, a script run alone after another (or after bench/all.sh) builds nothing new.
# (transform.sh and fidelity.sh build the media crate's example alone: no SDK in it.)
# NO_BUILD=1 (or BUILD=0) skips it and uses the binaries already in the target folder.
bench_build() {
    if [ "${NO_BUILD:-0}" = 1 ] || [ "${BUILD:-1}" = 0 ]; then
        return 0
    fi
    case ${1:-release} in
        release) cargo build --release --locked --quiet --workspace --bins --examples ;;
        debug) cargo build --locked --quiet --workspace --bins --examples ;;
        *) echo "bench_build: release or debug, not $1" >&2; return 2 ;;
    esac
}
