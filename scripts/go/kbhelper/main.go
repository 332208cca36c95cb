// kbhelper runs KubeBlocks' own code (v1.0.2, built inside a copy of the module by
// scripts/kubeblocks.sh) over rocketmq-sidecar's manifests, for tests/kubeblocks.rs:
//
//	kbhelper names [--lenient] FILE...   every ComponentDefinition / ShardingDefinition reference in
//	                                     FILE... resolved with KubeBlocks' PrefixOrRegexMatched against
//	                                     the shipped definitions and the rocketmq addon's; exit 1 when a
//	                                     name can be taken for another
//	kbhelper kbagent-env CMPD COMP       kbagent's KB_AGENT_ACTION / KB_AGENT_PROBE (JSON object) for a
//	                                     component COMP of the ComponentDefinition in CMPD, by
//	                                     KubeBlocks' own conversion (buildKBAgentStartupEnvs)
//	kbhelper reconfigure-1.2 ...         KubeBlocks 1.2's Reconfiguring of one config file, ported
//	                                     (see reconfigure12.go): the policy, then the reconfigure action
//	                                     run once per dynamic parameter with KEY VALUE appended
//
// Every manifest is decoded strictly with KubeBlocks' API types: an unknown field is an error.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"

	appsv1 "github.com/apecloud/kubeblocks/apis/apps/v1"
	parametersv1alpha1 "github.com/apecloud/kubeblocks/apis/parameters/v1alpha1"
	"github.com/apecloud/kubeblocks/pkg/controller/component"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: kbhelper names FILE... | kbagent-env CMPD COMP | reconfigure-1.2 ... | roleprobe-1.2 < EVENTS")
	}
	var err error
	switch os.Args[1] {
	case "names":
		files := os.Args[2:]
		if len(files) > 0 && files[0] == "--lenient" {
			lenient, files = true, files[1:]
		}
		err = names(files)
	case "kbagent-env":
		if len(os.Args) != 4 {
			fail("usage: kbhelper kbagent-env CMPD_FILE FULL_COMPONENT_NAME")
		}
		err = kbagentEnv(os.Args[2], os.Args[3])
	case "reconfigure-1.2":
		err = reconfigure12(os.Args[2:])
	case "roleprobe-1.2":
		err = roleProbe12()
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "kbhelper:", msg)
	os.Exit(1)
}

// doc is one YAML document of a manifest file: its kind and raw bytes.
type doc struct {
	file string
	kind string
	raw  []byte
}

func readDocs(files []string) ([]doc, error) {
	var out []doc
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, part := range bytes.Split(data, []byte("\n---")) {
			var head struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal(part, &head); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if head.Kind != "" {
				out = append(out, doc{file: f, kind: head.Kind, raw: part})
			}
		}
	}
	return out, nil
}

// lenient: decode without refusing unknown fields (`names --lenient`, for the 1.2 manifests, which
// 1.0.2's types cannot hold; kubeconform checks those strictly against the 1.2 schemas).
var lenient bool

// strict decodes one document into a KubeBlocks API type, refusing unknown fields.
func strict(d doc, into any) error {
	decode := yaml.UnmarshalStrict
	if lenient {
		decode = func(y []byte, o any, _ ...yaml.JSONOpt) error { return yaml.Unmarshal(y, o) }
	}
	if err := decode(d.raw, into); err != nil {
		return fmt.Errorf("%s: %s: %w", d.file, d.kind, err)
	}
	return nil
}

// ---- names ----

// The rocketmq addon's definitions and the references it makes (kubeblocks-addons release-1.0
// chart 1.0.3 and HEAD chart 1.2.0-alpha.0: templates/_helpers.tpl, sharding-definition.yaml,
// clusterdefinition.yaml, addons-cluster/rocketmq/templates/cluster.yaml).
var addonDefs = map[string][]string{
	"ComponentDefinition": {
		"rocketmq-broker-4-1.0.3", "rocketmq-namesrv-4-1.0.3", "rocketmq-exporter-1.0.3", "rocketmq-dashboard-1.0.3",
		"rocketmq-broker-4-1.2.0-alpha.0", "rocketmq-namesrv-4-1.2.0-alpha.0",
	},
	"ShardingDefinition": {"rocketmq-broker"},
}

var addonRefs = []ref{
	{kind: "ComponentDefinition", pattern: "rocketmq-broker-", from: "addon ShardingDefinition rocketmq-broker template.compDef"},
	{kind: "ComponentDefinition", pattern: "rocketmq-broker-4", from: "addon Cluster chart broker componentDef"},
	{kind: "ComponentDefinition", pattern: "rocketmq-namesrv-4", from: "addon Cluster chart namesrv componentDef"},
	{kind: "ComponentDefinition", pattern: "rocketmq-exporter", from: "addon Cluster chart exporter componentDef"},
	{kind: "ComponentDefinition", pattern: "rocketmq-dashboard", from: "addon Cluster chart dashboard componentDef"},
	{kind: "ShardingDefinition", pattern: "rocketmq-broker", from: "addon ClusterDefinition topology shardingDef"},
}

type ref struct {
	kind    string // the kind the reference resolves to
	pattern string
	from    string
	exact   bool // KubeBlocks 1.0 matches a ParamConfigRenderer's componentDef by equality
}

type def struct{ kind, name, file string }

func names(files []string) error {
	docs, err := readDocs(files)
	if err != nil {
		return err
	}
	var defs []def
	var refs []ref
	for _, d := range docs {
		ds, rs, err := namesOf(d)
		if err != nil {
			return err
		}
		defs = append(defs, ds...)
		refs = append(refs, rs...)
	}
	var problems []string
	// No shipped name may be taken for another: as a prefix or as a regular expression.
	for _, a := range defs {
		for _, b := range defs {
			if a != b && component.PrefixOrRegexMatched(b.name, a.name) {
				problems = append(problems, fmt.Sprintf("%s %s (%s) matches %s %s (%s)", a.kind, a.name, a.file, b.kind, b.name, b.file))
			}
		}
	}
	// Every shipped reference resolves to one definition; a reference to the addon never to ours.
	for _, r := range refs {
		ours, theirs := resolve(r, defs)
		fmt.Printf("%-60s %-40s -> ours %v, addon %v\n", r.from, r.pattern, ours, theirs)
		switch {
		case len(ours)+len(theirs) == 0:
			problems = append(problems, fmt.Sprintf("%s: %s matches nothing", r.from, r.pattern))
		case len(ours) > 1 || (len(ours) == 1 && len(theirs) > 0):
			problems = append(problems, fmt.Sprintf("%s: %s matches %v and %v", r.from, r.pattern, ours, theirs))
		}
	}
	for _, r := range addonRefs {
		ours, theirs := resolve(r, defs)
		fmt.Printf("%-60s %-40s -> ours %v, addon %v\n", r.from, r.pattern, ours, theirs)
		if len(ours) > 0 {
			problems = append(problems, fmt.Sprintf("%s: %s would take ours: %v", r.from, r.pattern, ours))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("names that can be taken for another:\n  %s", strings.Join(problems, "\n  "))
	}
	fmt.Printf("ok: %d definitions, %d references, %d addon references\n", len(defs), len(refs), len(addonRefs))
	return nil
}

func resolve(r ref, defs []def) (ours, theirs []string) {
	match := func(name string) bool {
		if r.exact {
			return name == r.pattern
		}
		return component.PrefixOrRegexMatched(name, r.pattern)
	}
	for _, d := range defs {
		if d.kind == r.kind && match(d.name) {
			ours = append(ours, d.name)
		}
	}
	for _, name := range addonDefs[r.kind] {
		if match(name) {
			theirs = append(theirs, name)
		}
	}
	return ours, theirs
}

func namesOf(d doc) ([]def, []ref, error) {
	from := func(what string) string { return d.file + ": " + what }
	switch d.kind {
	case "ComponentDefinition":
		var o appsv1.ComponentDefinition
		if err := strict(d, &o); err != nil {
			return nil, nil, err
		}
		var refs []ref
		for _, v := range o.Spec.Vars {
			if v.ValueFrom != nil && v.ValueFrom.ComponentVarRef != nil && v.ValueFrom.ComponentVarRef.CompDef != "" {
				refs = append(refs, ref{kind: d.kind, pattern: v.ValueFrom.ComponentVarRef.CompDef, from: from("var " + v.Name)})
			}
		}
		return []def{{d.kind, o.Name, d.file}}, refs, nil
	case "ShardingDefinition":
		var o appsv1.ShardingDefinition
		if err := strict(d, &o); err != nil {
			return nil, nil, err
		}
		r := ref{kind: "ComponentDefinition", pattern: o.Spec.Template.CompDef, from: from("template.compDef")}
		return []def{{d.kind, o.Name, d.file}}, []ref{r}, nil
	case "Cluster":
		var o appsv1.Cluster
		if err := strict(d, &o); err != nil {
			return nil, nil, err
		}
		var refs []ref
		for _, c := range o.Spec.ComponentSpecs {
			refs = append(refs, ref{kind: "ComponentDefinition", pattern: c.ComponentDef, from: from("component " + c.Name)})
		}
		for _, s := range o.Spec.Shardings {
			refs = append(refs, ref{kind: "ShardingDefinition", pattern: s.ShardingDef, from: from("sharding " + s.Name)})
			refs = append(refs, ref{kind: "ComponentDefinition", pattern: s.Template.ComponentDef, from: from("sharding " + s.Name + " template")})
		}
		return nil, refs, nil
	case "ParamConfigRenderer":
		var o parametersv1alpha1.ParamConfigRenderer
		if err := strict(d, &o); err != nil {
			return nil, nil, err
		}
		return nil, []ref{{kind: "ComponentDefinition", pattern: o.Spec.ComponentDef, from: from("ParamConfigRenderer " + o.Name), exact: true}}, nil
	case "ParametersDefinition":
		var o parametersv1alpha1.ParametersDefinition
		return nil, nil, strict(d, &o)
	}
	return nil, nil, nil
}

// ---- kbagent-env ----

func kbagentEnv(file, compName string) error {
	docs, err := readDocs([]string{file})
	if err != nil {
		return err
	}
	for _, d := range docs {
		if d.kind != "ComponentDefinition" {
			continue
		}
		var cmpd appsv1.ComponentDefinition
		if err := strict(d, &cmpd); err != nil {
			return err
		}
		env, err := component.RocketMQSidecarKBAgentEnv(&cmpd, compName)
		if err != nil {
			return err
		}
		out := map[string]string{}
		for _, e := range env {
			if strings.HasPrefix(e.Name, "KB_AGENT_") && e.ValueFrom == nil {
				out[e.Name] = e.Value
			}
		}
		return json.NewEncoder(os.Stdout).Encode(out)
	}
	return fmt.Errorf("%s: no ComponentDefinition", file)
}
