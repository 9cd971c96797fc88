#!/usr/bin/env bash
# Runs every benchmark against its floor in one go and prints one markdown table.
#
#   bench/run.sh [--rows N] [--backend sqlite|postgres] [--smoke] [--wrk-seconds S]
#                [--profile P]
#
#   --rows N          size of the generated data (default 1000000): the .xlsx rows, the
#                     campaign's customers, the CRM contacts, the phone numbers; the
#                     duplicate groups and a filter's matches are a tenth of it
#   --backend B       the database the server runs on (default sqlite); postgres makes a
#                     fresh database per bench on CALLSHEET_BENCH_PG (default
#                     postgres://postgres@127.0.0.1:5432/postgres) and drops it after
#   --smoke           --rows 10000 --profile dev: checks that it works, quickly
#   --wrk-seconds S   how long each wrk run lasts (default 10; 3 below 100000 rows)
#   --profile P       the cargo profile to build (default bench, i.e. release); dev
#                     reuses the test build, for smoke runs whose timings do not matter
#
# The table goes to stdout and each bench's own output to stderr, so
# `bench/run.sh > results.md` keeps just the table. Timings are reported, never
# asserted: the exit status says only whether every bench ran.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; }

rows=1000000
backend=sqlite
wrk_seconds=
profile=bench
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=${2:-}; shift 2 || shift ;;
    --rows=*) rows=${1#*=}; shift ;;
    --backend) backend=${2:-}; shift 2 || shift ;;
    --backend=*) backend=${1#*=}; shift ;;
    --smoke) rows=10000; profile=dev; shift ;;
    --profile) profile=${2:-}; shift 2 || shift ;;
    --profile=*) profile=${1#*=}; shift ;;
    --wrk-seconds) wrk_seconds=${2:-}; shift 2 || shift ;;
    --wrk-seconds=*) wrk_seconds=${1#*=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$rows" =~ ^[0-9]+$ ]] && [ "$rows" -ge 1000 ] || { echo "bench/run.sh: --rows must be a number >= 1000" >&2; exit 2; }
case "$backend" in
  sqlite | postgres) ;;
  *) echo "bench/run.sh: --backend must be sqlite or postgres, not '$backend'" >&2; exit 2 ;;
esac
if [ -z "$wrk_seconds" ]; then
  if [ "$rows" -lt 100000 ]; then wrk_seconds=3; else wrk_seconds=10; fi
fi
[[ "$profile" =~ ^[A-Za-z0-9_-]+$ ]] || { echo "bench/run.sh: --profile needs a cargo profile name" >&2; exit 2; }
[[ "$wrk_seconds" =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: --wrk-seconds must be a positive number" >&2; exit 2; }

# wrk is the load generator for the throughput row: a separate process, as a client would be.
if ! command -v wrk >/dev/null 2>&1; then
  echo "== installing wrk" >&2
  sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y wrk >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y wrk >&2; }
fi

export CALLSHEET_BENCH_ROWS=$rows
export CALLSHEET_BENCH_BACKEND=$backend
export CALLSHEET_BENCH_WRK_SECONDS=$wrk_seconds
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

if [ "$backend" = postgres ]; then
  command -v psql >/dev/null 2>&1 || { echo "bench/run.sh: the postgres backend needs psql" >&2; exit 2; }
  export CALLSHEET_BENCH_PG=${CALLSHEET_BENCH_PG:-postgres://postgres@127.0.0.1:5432/postgres}
  export CALLSHEET_BENCH_RUN=$$
  psql -X -q -d "$CALLSHEET_BENCH_PG" -c 'SELECT 1' >/dev/null
fi

table=$(mktemp)
export CALLSHEET_BENCH_TABLE=$table
cleanup() {
  rm -f "$table"
  # Each bench drops its database when it ends; this catches those a crash left behind.
  if [ "$backend" = postgres ]; then
    psql -X -At -d "$CALLSHEET_BENCH_PG" \
      -c "SELECT datname FROM pg_database WHERE datname LIKE 'callsheet\\_bench\\_${CALLSHEET_BENCH_RUN}\\_%'" |
      while read -r db; do
        psql -X -q -d "$CALLSHEET_BENCH_PG" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >&2 || true
      done
  fi
}
trap cleanup EXIT

echo "== cargo bench --profile $profile --no-run" >&2
cargo bench --profile "$profile" --no-run >&2

failed=()
for bench in import filter campaign phone load calling; do
  echo "== cargo bench --profile $profile --bench $bench  ($rows rows, $backend)" >&2
  started=$SECONDS
  if ! cargo bench --profile "$profile" --bench "$bench" >&2; then
    failed+=("$bench")
    echo "| $bench bench | failed: its output is above | — | — | — | no |" >>"$table"
  fi
  echo "== $bench took $((SECONDS - started)) s" >&2
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
mem=$(awk '/^MemTotal:/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo 2>/dev/null)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain -- src benches Cargo.toml 2>/dev/null)" ] || commit="$commit (with uncommitted changes)"
args=(--rows "$rows" --backend "$backend")
[ "$wrk_seconds" -eq 10 ] || args+=(--wrk-seconds "$wrk_seconds")
build="the $profile profile"
if [ "$profile" != bench ] && [ "$profile" != release ]; then
  args+=(--profile "$profile")
  build="$build: not the optimized build, so these timings say nothing about performance"
fi

cat <<EOT

## callsheet benchmarks: $rows rows, $backend

- command: \`bench/run.sh ${args[*]}\`
- machine: $(nproc) cores (${cpu:-unknown CPU}), ${mem:-unknown memory}, $(uname -sr)
- commit $commit, built with $build, $(date -u '+%Y-%m-%d %H:%M UTC')
- ratio: callsheet's time per operation over the floor's (2.00x is half the floor's speed)

| measurement | callsheet | floor / baseline | ratio | target | met? |
|---|---|---|---|---|---|
EOT
cat "$table"

if [ ${#failed[@]} -gt 0 ]; then
  echo "bench/run.sh: failed: ${failed[*]}" >&2
  exit 1
fi
