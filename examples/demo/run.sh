#!/usr/bin/env bash
# The README demo (`make demo`): a Katalog running against a local Kubernetes control plane.
#
# 1. `ork local up` builds (first time only: several minutes) and starts etcd, kube-apiserver and
#    kube-controller-manager on loopback, and writes an admin kubeconfig;
# 2. applies the Website CRD (examples/demo/website-crd.yaml);
# 3. starts `ork run -f examples/hello-website.yaml` in the background;
# 4. applies two sample Websites and shows `ork status` and the Deployments and Services created.
# There is no kubelet, so the Deployments never get ready Pods: the point is what Orkestra writes.
# Everything keeps running afterwards; `make demo-down` (this script with `down`) stops it all.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export PATH="$repo/.venv/bin:$PATH"
state="${XDG_CACHE_HOME:-$HOME/.cache}/orkestra/demo"
port="${ORK_DEMO_PORT:-8080}"
mkdir -p "$state"

step() { printf '\n==> %s\n' "$*"; }

stop_ork_run() {
  if [[ -f "$state/ork-run.pid" ]]; then
    pid=$(cat "$state/ork-run.pid")
    if kill -0 "$pid" 2>/dev/null && grep -q "ork" "/proc/$pid/cmdline" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$state/ork-run.pid"
  fi
}

if [[ "${1:-}" == "down" ]]; then
  stop_ork_run
  ork local down
  exit 0
fi

step "Starting the local Kubernetes control plane (first run: compiles it from Go modules)"
eval "$(ork local up)"
echo "KUBECONFIG=$KUBECONFIG"

step "Applying the Website CRD"
kubectl apply -f "$here/website-crd.yaml"
kubectl wait --for=condition=Established crd/websites.demo.orkestra.io --timeout=60s

step "Starting ork run on examples/hello-website.yaml (port $port, log $state/ork-run.log)"
stop_ork_run
ork run -f "$repo/examples/hello-website.yaml" --port "$port" >"$state/ork-run.log" 2>&1 &
echo $! >"$state/ork-run.pid"
for i in $(seq 1 300); do
  if ! kill -0 "$(cat "$state/ork-run.pid")" 2>/dev/null; then
    echo "error: ork run exited during start-up; the last lines of its log:" >&2
    tail -n 20 "$state/ork-run.log" >&2
    exit 1
  fi
  curl -fsS "http://127.0.0.1:$port/startup" >/dev/null 2>&1 && break
  if [[ $i == 300 ]]; then
    echo "error: ork run did not answer /startup within 60s; the last lines of its log:" >&2
    tail -n 20 "$state/ork-run.log" >&2
    exit 1
  fi
  sleep 0.2
done

step "Applying two sample Websites"
kubectl apply -f "$here/websites.yaml"
kubectl wait --for=condition=Ready website --all -n demo --timeout=60s

step "ork status"
ork status --url "http://127.0.0.1:$port" || true

step "What Orkestra created for them"
kubectl get websites,deployments,services -n demo

cat <<MSG

The control plane and ork run keep running. Try:
  export KUBECONFIG=$KUBECONFIG
  kubectl -n demo patch website hello --type merge -p '{"spec":{"replicas":3}}'
  kubectl -n demo get deployment hello-deployment
Stop everything with: make demo-down
MSG
