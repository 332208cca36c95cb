// KubeBlocks 1.2's handling of roleProbe events, ported from tag v1.2.0-alpha.3 (the module proxy here
// serves no 1.2 build of KubeBlocks, so CI cannot run 1.2 itself). Source:
// controllers/workloads/role_event_handler.go:
//
//   - parseRoleProbeOutput: stdout split on whitespace; `<role>` or `<role> <uint64 version>`; any other
//     form is an error (the event is not applied);
//   - acceptRoleProbeEvent: a versioned result is taken iff its version is greater than the pod's
//     last authoritative version; a single-token result iff its event time is newer than the pod's
//     last one, and never once the pod has taken a versioned result;
//   - handleInstanceSetRoleProbe: for an exclusive role, a single-token result is refused while a peer
//     holding the role has an authoritative version (versionedPeerHoldsExclusiveRole), a versioned one
//     while a peer holds it with a version >= its own (newerOrEqualVersionedExclusiveRoleHeldByPeer);
//     a taken result labels the pod (updatePodRoleLabel) and takes the role's label off every peer the
//     same event would be accepted for (removeExclusiveRoleLabels).
//
// Input on stdin, one JSON object per line, in the order kbagent's events arrive:
// {"pod": "b0", "output": "master 5"}. The event time of each is its line number. Roles: `master`
// (exclusive, as the kb-1.2 sets declare it) and `slave`. Output: one JSON line per event with the
// outcome, then {"labels": {pod: role}}.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

type probePod struct {
	role             string
	authoritative    string // LastRoleAuthoritativeVersionAnnotationKey
	lastEventVersion string // LastRoleEventVersionAnnotationKey
}

type probeOutput struct {
	role           string
	version        uint64
	hasAuthVersion bool
}

func parseProbeOutput(stdout string) (probeOutput, error) {
	tokens := strings.Fields(stdout)
	switch len(tokens) {
	case 0:
		return probeOutput{}, nil
	case 1:
		return probeOutput{role: strings.ToLower(tokens[0])}, nil
	case 2:
		v, err := strconv.ParseUint(tokens[1], 10, 64)
		if err != nil {
			return probeOutput{}, fmt.Errorf("invalid role version %q: %w", tokens[1], err)
		}
		return probeOutput{role: strings.ToLower(tokens[0]), version: v, hasAuthVersion: true}, nil
	default:
		return probeOutput{}, fmt.Errorf("invalid role probe output: expected one or two tokens, got %d", len(tokens))
	}
}

func acceptEvent(p *probePod, eventVersion string, parsed probeOutput) bool {
	if parsed.hasAuthVersion {
		if p.authoritative == "" {
			return true
		}
		lastV, err := strconv.ParseUint(p.authoritative, 10, 64)
		return err != nil || parsed.version > lastV
	}
	if p.authoritative != "" {
		return false
	}
	if p.lastEventVersion == "" {
		return true
	}
	lastV, err := strconv.ParseUint(p.lastEventVersion, 10, 64)
	if err != nil {
		return true
	}
	eventV, err := strconv.ParseUint(eventVersion, 10, 64)
	if err != nil {
		return true
	}
	return eventV > lastV
}

func roleProbe12() error {
	pods := map[string]*probePod{}
	exclusive := map[string]bool{"master": true}
	defined := map[string]bool{"master": true, "slave": true}
	scanner := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for n := 1; scanner.Scan(); n++ {
		var ev struct{ Pod, Output string }
		if err := json.Unmarshal(scanner.Bytes(), &ev); err != nil {
			return err
		}
		if pods[ev.Pod] == nil {
			pods[ev.Pod] = &probePod{}
		}
		result, reason := handleProbeEvent(pods, ev.Pod, ev.Output, strconv.Itoa(n), exclusive, defined)
		if err := out.Encode(map[string]string{"pod": ev.Pod, "output": ev.Output, "result": result, "reason": reason}); err != nil {
			return err
		}
	}
	labels := map[string]string{}
	for name, p := range pods {
		labels[name] = p.role
	}
	return out.Encode(map[string]any{"labels": labels})
}

func handleProbeEvent(pods map[string]*probePod, name, output, eventVersion string, exclusive, defined map[string]bool) (string, string) {
	parsed, err := parseProbeOutput(output)
	if err != nil {
		return "failed", err.Error()
	}
	pod := pods[name]
	if !acceptEvent(pod, eventVersion, parsed) {
		return "skipped", "staleRoleEventVersion"
	}
	peers := func() []string {
		var names []string
		for other, p := range pods {
			if other != name && p.role == parsed.role {
				names = append(names, other)
			}
		}
		sort.Strings(names)
		return names
	}
	if defined[parsed.role] && exclusive[parsed.role] {
		for _, other := range peers() {
			last := pods[other].authoritative
			if !parsed.hasAuthVersion && last != "" {
				return "skipped", "versionedPeerHeldExclusiveRole"
			}
			if lastV, err := strconv.ParseUint(last, 10, 64); parsed.hasAuthVersion && err == nil && lastV >= parsed.version {
				return "skipped", "stalePeerRoleVersion"
			}
		}
	}
	if defined[parsed.role] {
		pod.role = parsed.role
	} else {
		pod.role = ""
	}
	if parsed.hasAuthVersion {
		pod.authoritative = strconv.FormatUint(parsed.version, 10)
	} else {
		pod.lastEventVersion = eventVersion
	}
	if defined[parsed.role] && exclusive[parsed.role] {
		for _, other := range peers() {
			p := pods[other]
			if !acceptEvent(p, eventVersion, parsed) {
				continue
			}
			p.role = ""
			if !parsed.hasAuthVersion {
				p.lastEventVersion = eventVersion
			}
		}
	}
	return "handled", "updated"
}
