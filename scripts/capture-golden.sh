#!/usr/bin/env bash
# Re-captures proto/golden/ from a fresh real RocketMQ 4.9.6 cluster (namesrv, master, slave, ACL broker),
# and re-computes proto/acl-vectors.jsonl with the official Java client code. Stops everything at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
cluster_up "$(mktemp -d)"
read -r AK SK _ < <(scripts/rocketmq.sh acl-accounts | head -1)
cargo run -q --example capture_golden -- "$NAMESRV" "$MASTER" "$SLAVE" "$ACL_BROKER" "$AK" "$SK" proto/golden
java -cp "$(scripts/rocketmq.sh classpath)" scripts/java/AclVector.java >proto/acl-vectors.jsonl
echo "captured into proto/golden and proto/acl-vectors.jsonl"
