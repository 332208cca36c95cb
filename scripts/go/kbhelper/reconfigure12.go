// KubeBlocks 1.2's Reconfiguring of one config file, ported from tag v1.2.0-alpha.3 (the module proxy
// here serves no 1.2 build of KubeBlocks, so CI cannot run 1.2 itself):
//
//   - policy: controllers/parameters/reconfigure_controller.go resolveReconfigurePolicy. With no
//     reloadAction and a config template `reconfigure` action, a change of dynamic parameters only
//     is syncReload; anything else restarts the pods.
//   - dynamic: pkg/parameters/core/reconfigure_util.go IsDynamicParameter (the same rule as 1.0.2's
//     pkg/configuration/core, which this helper calls).
//   - arguments: controllers/parameters/reconfigure/sync.go createSyncPolicy + buildReconfigureArgs:
//     one [KEY, VALUE] per updated dynamic parameter, keys sorted; the parameter
//     KB_CONFIG_FILES_UPDATED=<mounted path>:<sha256 of the new content>
//     (buildUpdatedConfigFileChecksums).
//   - the call: pkg/kbagent/service/reconfigure.go checkReconfigureUpdated (the mounted file must
//     already hold that content, else preconditionFailed), action.go callActionWithRetry (the action
//     once per argument tuple, stopping at the first failure), action_utils.go execActionCallX
//     (argv = command[1:] + args + tuple; env = parameters, then kbagent's own env for the rest;
//     cwd unchanged; its own process group; timeout capped at 60 s) and
//     blockingCallActionWithTimeoutCap ("exit code: N, stderr: ...").
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"

	appsv1 "github.com/apecloud/kubeblocks/apis/apps/v1"
	parametersv1alpha1 "github.com/apecloud/kubeblocks/apis/parameters/v1alpha1"
	"github.com/apecloud/kubeblocks/pkg/configuration/core"
)

type call12 struct {
	Argv   []string `json:"argv"`
	Error  string   `json:"error,omitempty"`
	Stdout string   `json:"stdout"`
}

type result12 struct {
	Policy  string            `json:"policy"`
	Changed map[string]string `json:"changed"`
	Params  map[string]string `json:"parameters,omitempty"`
	Calls   []call12          `json:"calls"`
}

func reconfigure12(args []string) error {
	fs := flag.NewFlagSet("reconfigure-1.2", flag.ContinueOnError)
	manifests := fs.String("manifests", "", "the rendered 1.2 manifests (ComponentDefinition + ParametersDefinition)")
	template := fs.String("template", "rocketmq-broker-config", "the config template's name")
	oldFile := fs.String("old", "", "the file's content before the change")
	newFile := fs.String("new", "", "the file's new content (the rendered ConfigMap)")
	mounted := fs.String("mounted", "", "the file as mounted in the pod (kbagent checks it holds the new content)")
	mountPath := fs.String("mount-path", "", "the path KubeBlocks names in KB_CONFIG_FILES_UPDATED [default: --mounted]")
	var mounts mountFlag
	fs.Var(&mounts, "mount", "kubelet stand-in, repeatable: FROM=TO, a volume the pod mounts at FROM that lives at TO here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmpd, pd, err := readCmpdAndPD(*manifests)
	if err != nil {
		return err
	}
	action, err := templateReconfigure(cmpd, *template)
	if err != nil {
		return err
	}
	oldText, err := os.ReadFile(*oldFile)
	if err != nil {
		return err
	}
	newText, err := os.ReadFile(*newFile)
	if err != nil {
		return err
	}
	changed := changedProperties(string(oldText), string(newText))
	res := result12{Policy: policy12(pd, changed), Changed: changed, Calls: []call12{}}
	if res.Policy == "syncReload" {
		path := *mountPath
		if path == "" {
			path = *mounted
		}
		res.Params = map[string]string{"KB_CONFIG_FILES_UPDATED": fmt.Sprintf("%s:%x", path, sha256.Sum256(newText))}
		res.Calls = runReconfigure(action, res.Params, *mounted, reconfigureArgs(changed), mounts)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// cmpd12 is the part of a 1.2 ComponentDefinition this port reads. The 1.0.2 API types this helper
// is built with have no configs[].reconfigure (nor 1.2's passwordConfig), so the 1.2 manifests are
// checked strictly by kubeconform against the 1.2 CRD schemas instead (tests/deploy.rs).
type cmpd12 struct {
	Spec struct {
		Configs []struct {
			Name        string         `json:"name"`
			Reconfigure *appsv1.Action `json:"reconfigure,omitempty"`
		} `json:"configs"`
	} `json:"spec"`
}

func readCmpdAndPD(file string) (*cmpd12, *parametersv1alpha1.ParametersDefinition, error) {
	docs, err := readDocs([]string{file})
	if err != nil {
		return nil, nil, err
	}
	var cmpd *cmpd12
	var pd *parametersv1alpha1.ParametersDefinition
	for _, d := range docs {
		switch d.kind {
		case "ComponentDefinition":
			cmpd = &cmpd12{}
			err = yaml.Unmarshal(d.raw, cmpd)
		case "ParametersDefinition":
			pd = &parametersv1alpha1.ParametersDefinition{}
			err = strict(d, pd)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if cmpd == nil || pd == nil {
		return nil, nil, fmt.Errorf("%s: needs a ComponentDefinition and a ParametersDefinition", file)
	}
	return cmpd, pd, nil
}

func templateReconfigure(cmpd *cmpd12, name string) (*appsv1.Action, error) {
	for _, t := range cmpd.Spec.Configs {
		if t.Name == name && t.Reconfigure != nil && t.Reconfigure.Exec != nil {
			return t.Reconfigure, nil
		}
	}
	return nil, fmt.Errorf("no config template %q with an exec reconfigure action", name)
}

// policy12 is resolveReconfigurePolicy for a ParametersDefinition without reloadAction (the one branch
// the 1.2 manifests take) and, for comparison, with autoTrigger.
func policy12(pd *parametersv1alpha1.ParametersDefinition, changed map[string]string) string {
	if len(changed) == 0 {
		return "none"
	}
	dynamicOnly := true
	for k := range changed {
		if !core.IsDynamicParameter(k, &pd.Spec) {
			dynamicOnly = false
		}
	}
	switch {
	case !dynamicOnly:
		return "restart"
	case pd.Spec.ReloadAction == nil:
		return "syncReload"
	case pd.Spec.ReloadAction.AutoTrigger != nil:
		return "asyncReload"
	}
	return "unsupported"
}

// changedProperties: the keys whose value differs (or that appeared) between two props-plus files.
func changedProperties(oldText, newText string) map[string]string {
	before, after := properties(oldText), properties(newText)
	out := map[string]string{}
	for k, v := range after {
		if old, ok := before[k]; !ok || old != v {
			out[k] = v
		}
	}
	return out
}

func properties(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "!") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func reconfigureArgs(params map[string]string) [][]string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, []string{k, params[k]})
	}
	return out
}

// runReconfigure: kbagent 1.2's precondition check, then the action once per tuple.
func runReconfigure(action *appsv1.Action, params map[string]string, mounted string, tuples [][]string, mounts mountFlag) []call12 {
	calls := []call12{}
	want := params["KB_CONFIG_FILES_UPDATED"]
	content, err := os.ReadFile(mounted)
	if err != nil || !strings.HasSuffix(want, fmt.Sprintf(":%x", sha256.Sum256(content))) {
		return append(calls, call12{Error: "preconditionFailed: reconfigure - updated file is not up-to-date " + mounted})
	}
	for _, tuple := range tuples {
		c := execOnce(action, params, tuple, mounts)
		calls = append(calls, c)
		if c.Error != "" {
			break
		}
	}
	return calls
}

func execOnce(action *appsv1.Action, params map[string]string, tuple []string, mounts mountFlag) call12 {
	command := mounts.rewrite(action.Exec.Command)
	argv := append(append(append([]string{}, command[1:]...), action.Exec.Args...), tuple...)
	timeout := 30 * time.Second
	if action.TimeoutSeconds > 0 {
		timeout = min(time.Duration(action.TimeoutSeconds)*time.Second, 60*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, command[0], argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	env := []string{}
	for k, v := range params {
		env = append(env, k+"="+v)
	}
	for _, e := range os.Environ() {
		if _, ok := params[strings.SplitN(e, "=", 2)[0]]; !ok {
			env = append(env, e)
		}
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	c := call12{Argv: append([]string{command[0]}, argv...)}
	err := cmd.Run()
	c.Stdout = stdout.String()
	var exitErr *exec.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		c.Error = "timedOut"
	case errors.As(err, &exitErr):
		c.Error = fmt.Sprintf("failed: exit code: %d", exitErr.ExitCode())
		if stderr.Len() > 0 {
			c.Error += ", stderr: " + stderr.String()
		}
	case err != nil:
		c.Error = "failed: " + err.Error()
	}
	return c
}

// mountFlag: FROM=TO pairs. The kubelet would mount the pod's volumes at FROM; with no kubelet they
// live at TO, so a command word under FROM is rewritten to TO (the only change made to the action).
type mountFlag [][2]string

func (m *mountFlag) String() string { return fmt.Sprint(*m) }

func (m *mountFlag) Set(v string) error {
	from, to, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("--mount wants FROM=TO, got %q", v)
	}
	*m = append(*m, [2]string{from, to})
	return nil
}

func (m mountFlag) rewrite(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = w
		for _, fromTo := range m {
			if strings.HasPrefix(w, fromTo[0]) {
				out[i] = fromTo[1] + strings.TrimPrefix(w, fromTo[0])
			}
		}
	}
	return out
}
