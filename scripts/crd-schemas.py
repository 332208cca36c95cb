#!/usr/bin/env python3
"""Turns CustomResourceDefinition YAML files into the JSON schemas kubeconform reads
(tests/data/schemas/<group>/<Kind>_<version>.json). Run by hand to refresh the vendored schemas:

    scripts/crd-schemas.py OUT_DIR CRD.yaml...

Kubernetes' OpenAPI extensions become plain JSON Schema: x-kubernetes-int-or-string allows an
integer or a string, and objects with declared properties reject any other field (as
kubeconform's -strict schemas do), unless marked x-kubernetes-preserve-unknown-fields."""
import json
import os
import sys

import yaml


def convert(node):
    if isinstance(node, list):
        return [convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: convert(v) for k, v in node.items()}
    # Strict, as kubeconform's own -strict schemas: an object lists every field it may have, so
    # a typo'd or misplaced field fails instead of being ignored by the API server.
    if "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["oneOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


def main():
    out_dir, files = sys.argv[1], sys.argv[2:]
    for path in files:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                group, kind = spec["group"], spec["names"]["kind"]
                for version in spec["versions"]:
                    schema = convert(version["schema"]["openAPIV3Schema"])
                    schema["$schema"] = "http://json-schema.org/schema#"
                    target = os.path.join(out_dir, group, f"{kind.lower()}_{version['name']}.json")
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with open(target, "w") as f:
                        json.dump(schema, f, separators=(",", ":"), sort_keys=True)
                        f.write("\n")
                    print(target)


if __name__ == "__main__":
    main()
