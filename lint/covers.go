package lint

import (
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// covers reports whether every packet later matches also matches earlier:
// each of earlier's matches must be implied by some match of later.
func covers(earlier, later *ir.Rule) bool {
	for _, m := range earlier.Matches {
		if !implied(m, later) {
			return false
		}
	}
	return true
}

func implied(m ir.Match, r *ir.Rule) bool {
	for _, n := range r.Matches {
		if implies(n, m) {
			return true
		}
	}
	// "tcp dport 22" implies "meta l4proto tcp".
	if pm, ok := m.(*ir.ProtocolMatch); ok {
		for _, n := range r.Matches {
			if port, ok := n.(*ir.PortMatch); ok && port.Protocol != ir.AnyTransport && slices.Contains(pm.Protocols, port.Protocol) {
				return true
			}
		}
	}
	return false
}

// implies reports whether every packet matching n also matches m.
func implies(n, m ir.Match) bool {
	switch m := m.(type) {
	case *ir.InterfaceMatch:
		n, ok := n.(*ir.InterfaceMatch)
		if !ok || n.Output != m.Output {
			return false
		}
		for _, name := range n.Names {
			if !slices.ContainsFunc(m.Names, func(pattern string) bool { return nameCovers(pattern, name) }) {
				return false
			}
		}
		return true
	case *ir.AddressMatch:
		n, ok := n.(*ir.AddressMatch)
		if !ok || n.Family != m.Family || n.Destination != m.Destination {
			return false
		}
		outer := ir.MergeRanges(m.Set)
		for _, e := range n.Set {
			if !slices.ContainsFunc(outer, func(o ir.AddrElem) bool { return !e.From.Less(o.From) && !o.To.Less(e.To) }) {
				return false
			}
		}
		return true
	case *ir.ProtocolMatch:
		n, ok := n.(*ir.ProtocolMatch)
		return ok && subset(n.Protocols, m.Protocols)
	case *ir.PortMatch:
		n, ok := n.(*ir.PortMatch)
		if !ok || n.Destination != m.Destination || m.Protocol != ir.AnyTransport && n.Protocol != m.Protocol {
			return false
		}
		for _, p := range n.Ports {
			if !slices.ContainsFunc(m.Ports, func(o ir.PortRange) bool { return o.First <= p.First && p.Last <= o.Last }) {
				return false
			}
		}
		return true
	case *ir.CtStateMatch:
		n, ok := n.(*ir.CtStateMatch)
		return ok && subset(n.States, m.States)
	}
	return false
}

func subset[T comparable](small, big []T) bool {
	for _, s := range small {
		if !slices.Contains(big, s) {
			return false
		}
	}
	return true
}

// nameCovers reports whether an interface pattern matches every interface
// name matches ("eth*" covers "eth0" and "eth1*").
func nameCovers(pattern, name string) bool {
	if !strings.HasSuffix(pattern, "*") {
		return pattern == name
	}
	return strings.HasPrefix(strings.TrimSuffix(name, "*"), strings.TrimSuffix(pattern, "*"))
}
