#!/usr/bin/env bash
# Stand-in for the rocketmq addon's roleProbe script (scripts/get-role.sh in apecloud/kubeblocks-addons),
# run by the control-plane test after a rollback to the addon's shell actions. It works the same way:
# one GET_BROKER_CONFIG request (code 26) written to 127.0.0.1:$BROKER_PORT through curl's telnet
# client, `slave` when the answer says brokerRole=SLAVE and `master` for anything else (so, like the
# addon's, it says master for a broker that does not answer).
header='{"code":26,"flag":0,"language":"JAVA","opaque":1,"version":317,"extFields":{}}'
n=${#header}
# Frame: total length (4 bytes, header length field included), then the header length (3 bytes) after
# the serialization byte 0 (JSON).
frame=$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x00\\x%02x\\x%02x\\x%02x' \
  0 0 $(((n + 4) >> 8)) $(((n + 4) & 255)) 0 $((n >> 8)) $((n & 255)))
answer=$(printf "$frame%s" "$header" | curl -s --no-buffer --max-time 1 "telnet://127.0.0.1:${BROKER_PORT}" | tr -d '\0')
case "$answer" in
  *brokerRole=SLAVE*) printf slave ;;
  *) printf master ;;
esac
