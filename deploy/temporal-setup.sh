#!/bin/sh
# One-shot (docker-compose.yml "setup"): waits for the namespace auto-setup creates, then registers
# the runner's custom search attributes, each exactly as workflows/search_attributes.py declares it
# (tests/deploy/test_compose.py compares the two). Idempotent: a registered name is left alone.
set -eu
ns="${TEMPORAL_NAMESPACE:-default}"
until temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; do
  echo "waiting for Temporal namespace '$ns'"; sleep 2
done
registered="$(temporal operator search-attribute list --namespace "$ns")"
register() {
  if printf '%s\n' "$registered" | grep -qw "$1"; then
    echo "search attribute $1 already registered"
  else
    temporal operator search-attribute create --namespace "$ns" --name "$1" --type "$2"
  fi
}
register AccountId Keyword
register CsmId Keyword
register Playbook Keyword
register CurrentStep Keyword
register PendingSteps KeywordList
register Band Keyword
