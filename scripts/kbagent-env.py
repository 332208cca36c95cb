#!/usr/bin/env python3
"""kbagent's KB_AGENT_ACTION and KB_AGENT_PROBE for the ComponentDefinition in a rendered manifest, the
way KubeBlocks v1.0.2 makes them (pkg/controller/component/kbagent.go: buildKBAgentStartupEnvs,
buildAction4KBAgent, buildProbe4KBAgent). The demo uses it so that it need not build KubeBlocks'
packages; tests/kubeblocks.rs checks that it gives what KubeBlocks' own code gives (kbhelper
kbagent-env) for every shipped ComponentDefinition.

Usage: kbagent-env.py RENDERED.yaml FULL_COMPONENT_NAME   (prints {"KB_AGENT_ACTION": ..., "KB_AGENT_PROBE": ...})
"""
import json
import sys

import yaml

# The order KubeBlocks appends lifecycle actions in; probes come last.
ACTIONS = ["postProvision", "preTerminate", "switchover", "memberJoin", "memberLeave", "readonly",
           "readwrite", "dataDump", "dataLoad", "reconfigure", "accountProvision"]
PROBES = ["roleProbe", "availableProbe"]


def compact(d):
    """Go's `omitempty`: empty values are left out."""
    return {k: v for k, v in d.items() if v not in (None, "", [], {}, 0)}


def action(spec, name):
    a = {"name": name, "timeoutSeconds": spec.get("timeoutSeconds")}
    if "exec" in spec:
        a["exec"] = compact({"command": spec["exec"].get("command"), "args": spec["exec"].get("args")})
    if "http" in spec:
        h = spec["http"]
        a["http"] = compact({k: h.get(k) for k in ("port", "host", "scheme", "path", "method", "body")}
                            | {"headers": [{"name": x["name"], "value": x["value"]} for x in h.get("headers", [])]})
    if "retryPolicy" in spec:
        a["retryPolicy"] = compact(spec["retryPolicy"])
    return compact(a)


def main(path, instance):
    docs = [d for d in yaml.safe_load_all(open(path)) if d and d.get("kind") == "ComponentDefinition"]
    if len(docs) != 1:
        sys.exit(f"kbagent-env.py: expected one ComponentDefinition in {path}, found {len(docs)}")
    lifecycle = docs[0]["spec"].get("lifecycleActions") or {}
    actions = [action(lifecycle[n], n) for n in ACTIONS if n in lifecycle]
    probes = []
    for n in PROBES:
        if n in lifecycle:
            spec = lifecycle[n]
            actions.append(action(spec, n))
            probes.append(compact({"instance": instance, "action": n,
                                   "initialDelaySeconds": spec.get("initialDelaySeconds"),
                                   "periodSeconds": spec.get("periodSeconds"),
                                   "successThreshold": spec.get("successThreshold"),
                                   "failureThreshold": spec.get("failureThreshold")}))
    print(json.dumps({"KB_AGENT_ACTION": json.dumps(actions), "KB_AGENT_PROBE": json.dumps(probes)}))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
