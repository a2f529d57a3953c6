#!/usr/bin/env bash
# Checks the cluster recipes under deploy/ (Docs/Cluster.md) on this machine:
#   1. the Kubernetes manifests against the API schemas (kubernetes-validate, pip-installed into the
#      active python3 if missing), and the shell scripts' syntax (shellcheck and hadolint too when
#      they are on PATH);
#   2. the Slurm array script, run with bash as array tasks 0 and 1: one seed, and each task's folder
#      holds its own shard's state (.dlsmith/shard-<i>/stats.json);
#   3. the Indexed Job's container script, run with sh as indexes 0 and 1, then stopped by SIGTERM:
#      it must exit 143 (so that Kubernetes runs the index again) and the next run must resume;
#   4. both merge recipes (deploy/slurm/merge.sbatch and the
#      merge Job's script), their reports, and status of the merged folder.
# Usage: deploy/check.sh   (DLSMITH: the binary, default .build/release/dlsmith; CHECK_MAX_TIME: the
# budget of each short campaign, default 5s; K8S_VERSIONS: default "1.29.0 1.37.0")
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "deploy/check.sh: FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }

bin=${DLSMITH:-.build/release/dlsmith}
if [[ $bin != */* ]]; then bin=$(command -v "$bin") || fail "$DLSMITH is not on PATH"; fi
[ -x "$bin" ] || fail "no dlsmith binary at $bin (build it: swift build -c release --product dlsmith, or set DLSMITH)"
bin=$(realpath "$bin")
budget=${CHECK_MAX_TIME:-5s}
read -r -a k8s_versions <<<"${K8S_VERSIONS:-1.29.0 1.37.0}"

tmp=$(mktemp -d -t dlsmith-deploy-check-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# The recipes call `dlsmith`: put this binary on PATH under that name.
mkdir "$tmp/bin"
ln -s "$bin" "$tmp/bin/dlsmith"

step "Kubernetes manifests against the API schemas (${k8s_versions[*]})"
if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
  python3 -m pip install -q kubernetes-validate || fail "cannot install kubernetes-validate with pip"
fi
for v in "${k8s_versions[@]}"; do
  python3 -m kubernetes_validate --strict -k "$v" deploy/k8s/*.yaml ||
    fail "deploy/k8s/*.yaml do not validate against Kubernetes $v"
done

step "shell scripts"
# The Jobs' container scripts, extracted from the manifests (PyYAML comes with kubernetes-validate).
python3 - "$tmp" <<'PY'
import sys, yaml
for name in ("indexed-job", "merge-job"):
    job = yaml.safe_load(open(f"deploy/k8s/{name}.yaml"))
    with open(f"{sys.argv[1]}/{name}.sh", "w") as f:
        f.write(job["spec"]["template"]["spec"]["containers"][0]["args"][0])
PY
for s in deploy/slurm/*.sbatch deploy/check.sh; do bash -n "$s" || fail "$s: syntax error"; done
for s in "$tmp/indexed-job.sh" "$tmp/merge-job.sh"; do sh -n "$s" || fail "$(basename "$s" .sh).yaml: syntax error in its script"; done
if command -v shellcheck >/dev/null; then
  shellcheck deploy/slurm/*.sbatch deploy/check.sh || fail "shellcheck"
  shellcheck -s sh "$tmp/indexed-job.sh" "$tmp/merge-job.sh" || fail "shellcheck of the Jobs' scripts"
else
  echo "shellcheck not on PATH: skipped"
fi
if command -v hadolint >/dev/null; then
  hadolint deploy/Dockerfile || fail "hadolint deploy/Dockerfile"
else
  echo "hadolint not on PATH: skipped"
fi

# Checks that campaign folder $1 holds shard $2's state, and prints its seed.
shard_ok() {
  local dir=$1 i=$2
  [ -f "$dir/.dlsmith/shard-$i/stats.json" ] && return 0
  local found
  found=$(cd "$dir/.dlsmith" 2>/dev/null && echo shard-*) || found="nothing"
  fail "$dir has no .dlsmith/shard-$i/stats.json (found: $found): does $bin read its shard from the environment (JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID)?"
}
seed_of() { sed -n 's/^seed: //p' "$1" | head -n 1; }

step "Slurm array script, tasks 0 and 1 ($budget each)"
for i in 0 1; do
  rc=0
  env -u JOB_COMPLETION_INDEX -u JOB_COMPLETIONS SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=2 \
    SLURM_ARRAY_TASK_MIN=0 DLSMITH="$bin" CAMPAIGN="$tmp/slurm" MAX_TIME="$budget" BACKENDS=reference,fast \
    bash deploy/slurm/array.sbatch >"$tmp/slurm-$i.out" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || { cat "$tmp/slurm-$i.out" >&2; fail "array.sbatch exited $rc for task $i"; }
  shard_ok "$tmp/slurm/shard-$i" "$i"
done
s0=$(seed_of "$tmp/slurm-0.out")
s1=$(seed_of "$tmp/slurm-1.out")
if [ -z "$s0" ] || [ "$s0" != "$s1" ]; then
  fail "the array tasks used seeds '$s0' and '$s1': they must share one"
fi
echo "tasks 0 and 1: seed $s0, .dlsmith/shard-0 and .dlsmith/shard-1"

step "Indexed Job's container script, indexes 0 and 1 ($budget each), then SIGTERM and resume"
# shellcheck disable=SC2054 # the comma is in BACKENDS's value
k8s_env=(env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT -u SLURM_ARRAY_TASK_MIN PATH="$tmp/bin:$PATH"
  JOB_COMPLETIONS=2 CAMPAIGN="$tmp/k8s" SEED=7 BACKENDS=reference,fast JOBS=1 FUZZ_ARGS="--nodes 6")
for i in 0 1; do
  rc=0
  "${k8s_env[@]}" JOB_COMPLETION_INDEX=$i MAX_TIME="$budget" sh "$tmp/indexed-job.sh" >"$tmp/k8s-$i.out" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || { cat "$tmp/k8s-$i.out" >&2; fail "the Indexed Job's script exited $rc for index $i"; }
  shard_ok "$tmp/k8s/shard-$i" "$i"
done
"${k8s_env[@]}" JOB_COMPLETION_INDEX=0 MAX_TIME=120s sh "$tmp/indexed-job.sh" >"$tmp/k8s-term.out" 2>&1 &
pid=$!
for _ in $(seq 60); do
  grep -q "resuming at model" "$tmp/k8s-term.out" && break
  sleep 0.5
done
grep -q "resuming at model" "$tmp/k8s-term.out" || { kill -TERM "$pid"; wait "$pid" || true; fail "index 0 did not resume its folder"; }
sleep 1
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 143 ] || { cat "$tmp/k8s-term.out" >&2; fail "the Indexed Job's script exited $rc on SIGTERM, not 143"; }
echo "indexes 0 and 1: .dlsmith/shard-0 and .dlsmith/shard-1; SIGTERM: exit 143 after resuming"

step "merge and report"
# `dlsmith merge --help` exits 0 even without the subcommand (the top-level help): look for its usage.
"$bin" merge --help 2>/dev/null | grep -q "USAGE: dlsmith merge" || fail "$bin has no merge subcommand: too old"
{
  DLSMITH="$bin" CAMPAIGN="$tmp/slurm" bash deploy/slurm/merge.sbatch >"$tmp/merge-slurm.out" 2>&1 ||
    { cat "$tmp/merge-slurm.out" >&2; fail "merge.sbatch failed"; }
  "${k8s_env[@]}" sh "$tmp/merge-job.sh" >"$tmp/merge-k8s.out" 2>&1 ||
    { cat "$tmp/merge-k8s.out" >&2; fail "the merge Job's script failed"; }
  for c in slurm k8s; do
    m="$tmp/$c/merged"
    [ -s "$m/report.html" ] || fail "$m/report.html is missing or empty"
    grep -q "^# DLSmith findings" "$m/report.md" || fail "$m/report.md is not a report"
    n=$("$bin" status --json "$m" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["shards"]))') ||
      fail "dlsmith status --json $m failed"
    [ "$n" = 2 ] || fail "$m: status shows $n shard(s), not 2"
  done
  echo "merged folders: 2 shards each, report.md and report.html"
}

echo "deploy/check.sh: all checks passed"
