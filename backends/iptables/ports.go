package iptables

// Ports with their protocol: -m tcp, -m udp, multiport chunks.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// multiportMax is how many ports one multiport match holds (a range counts twice).
const multiportMax = 15

// portCombos writes a protocol's port matches as iptables-save does:
// "-m tcp --sport 67 --dport 68" for single ports and ranges, multiport
// ("-m multiport --dports 22,80,1000:2000") for sets. A set too large for
// one multiport match gives several alternatives; a negated one must fit.
func portCombos(p ir.Protocol, ports []*ir.Match, extra []string) ([][]string, *ir.Diagnostic) {
	var plain []string // options of the protocol's own module
	combos := [][]string{nil}
	for _, m := range ports {
		dir := "sport"
		if m.Field == ir.FieldDport {
			dir = "dport"
		}
		ranges := ir.Ports(m.Values)
		if len(ranges) == 1 {
			if m.Op == ir.Neq {
				plain = append(plain, "!")
			}
			plain = append(plain, "--"+dir, portRange(ranges[0]))
			continue
		}
		chunks := multiportChunks(ranges)
		if m.Op == ir.Neq && len(chunks) > 1 {
			return nil, cannot(m, fmt.Sprintf("a negated multiport match holds at most %d ports (a range counts twice)", multiportMax))
		}
		var next [][]string
		for _, combo := range combos {
			for _, chunk := range chunks {
				args := []string{"-m", "multiport"}
				if m.Op == ir.Neq {
					args = append(args, "!")
				}
				args = append(args, "--"+dir+"s", chunk)
				next = append(next, append(slices.Clone(combo), args...))
			}
		}
		combos = next
	}
	plain = append(plain, extra...)
	module := []string{"-m", p.String()}
	if len(plain) > 0 {
		if i := splitNegatedPorts(plain); i > 0 {
			// iptables-nft 1.8.9 (like nft 1.0.6) merges "! --sport A !
			// --dport B" into one comparison of both ports, which holds
			// when either differs; in two modules they stay two.
			plain = append(append(slices.Clone(plain[:i]), module...), plain[i:]...)
		}
		for i, combo := range combos {
			combos[i] = append(append(slices.Clone(module), plain...), combo...)
		}
	}
	return combos, nil
}

// splitNegatedPorts finds where a negated --dport follows a negated
// --sport in one module's options, or returns 0.
func splitNegatedPorts(opts []string) int {
	if len(opts) >= 6 && opts[0] == "!" && opts[1] == "--sport" && opts[3] == "!" && opts[4] == "--dport" {
		return 3
	}
	return 0
}

// multiportChunks splits ports into lists that fit one multiport match.
func multiportChunks(ranges []ir.PortRange) []string {
	var out, parts []string
	used := 0
	for _, r := range ranges {
		cost := 1
		if r.First != r.Last {
			cost = 2
		}
		if used+cost > multiportMax {
			out = append(out, strings.Join(parts, ","))
			parts, used = nil, 0
		}
		parts = append(parts, portRange(r))
		used += cost
	}
	return append(out, strings.Join(parts, ","))
}

func portRange(r ir.PortRange) string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return fmt.Sprintf("%d:%d", r.First, r.Last)
}
