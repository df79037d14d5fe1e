package ir

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
)

// Validate checks that p is a policy every backend can lower faithfully. It
// returns all problems found, positioned at the node that caused each one.
func (p *Policy) Validate() Diagnostics {
	var ds Diagnostics
	tables := map[string]*Table{}
	for _, t := range p.Tables {
		key := t.Family.String() + " " + t.Name
		if prev, dup := tables[key]; dup {
			ds.Errorf(t.Pos, "table %s is declared twice", key).Hint = "the first declaration is at " + prev.Pos.String()
			continue
		}
		tables[key] = t
		if err := CheckName(t.Name); err != nil {
			ds.Errorf(t.Pos, "bad table name: %v", err)
		}
		validateTable(t, &ds)
	}
	return ds
}

func validateTable(t *Table, ds *Diagnostics) {
	chains := map[string]*Chain{}
	for _, c := range t.Chains {
		if prev, dup := chains[c.Name]; dup {
			ds.Errorf(c.Pos, "chain %s is declared twice in table %s %s", c.Name, t.Family, t.Name).Hint =
				"the first declaration is at " + prev.Pos.String()
			continue
		}
		chains[c.Name] = c
		if err := CheckName(c.Name); err != nil {
			ds.Errorf(c.Pos, "bad chain name: %v", err)
		}
		if c.Hook == 0 {
			ds.Errorf(c.Pos, "chain %s has no hook", c.Name).Hint = "add one of: hook input, hook output, hook forward, hook prerouting, hook postrouting"
		}
		if c.Policy != Accept && c.Policy != Drop {
			ds.Errorf(c.Pos, "chain %s has policy %q; a chain's policy is accept or drop", c.Name, c.Policy)
		}
		for _, r := range c.Rules {
			validateRule(t, r, ds)
			if r.Verdict == Reject && c.Hook == HookPostrouting {
				// The kernel can only answer a packet it has not yet routed out.
				ds.Errorf(r.Pos, "reject cannot be used in a postrouting chain").Hint = "use drop here, or reject in the output or forward chain"
			}
		}
	}
}

func validateRule(t *Table, r *Rule, ds *Diagnostics) {
	family := Inet
	var familyPos Pos
	var protocols []Protocol // from a ProtocolMatch, nil when none
	for _, m := range r.Matches {
		if f := m.family(); f != Inet {
			if !t.Family.Covers(f) {
				ds.Errorf(m.Position(), "this %s match can never hold in table %s %s", f, t.Family, t.Name).Hint =
					"an " + t.Family.String() + " table only sees " + t.Family.String() + " packets"
			} else if family != Inet && family != f {
				ds.Errorf(m.Position(), "this %s match contradicts the %s match at %s: no packet is both", f, family, familyPos)
			} else {
				family, familyPos = f, m.Position()
			}
		}
		switch m := m.(type) {
		case *InterfaceMatch:
			for i, n := range m.Names {
				if err := CheckInterfaceName(n); err != nil {
					ds.Errorf(m.Pos, "%v", err)
				}
				if slices.Contains(m.Names[:i], n) {
					ds.Errorf(m.Pos, "interface %q appears twice in one match", n)
				}
			}
		case *AddressMatch:
			validateAddresses(m, ds)
		case *ProtocolMatch:
			protocols = m.Protocols
			for i, p := range m.Protocols {
				if slices.Contains(m.Protocols[:i], p) {
					ds.Errorf(m.Pos, "protocol %s appears twice in one match", p)
				}
			}
		case *PortMatch:
			validatePorts(m, protocols, ds)
		case *CtStateMatch:
			for i, s := range m.States {
				if !slices.Contains(CtStates, s) {
					ds.Errorf(m.Pos, "unknown conntrack state %q", s)
				}
				if slices.Contains(m.States[:i], s) {
					ds.Errorf(m.Pos, "conntrack state %s appears twice in one match", s)
				}
			}
		}
	}
	for _, s := range r.Statements {
		if l, ok := s.(*Log); ok {
			if err := CheckText("log prefix", l.Prefix, MaxLogPrefix); err != nil {
				ds.Errorf(l.Pos, "%v", err)
			} else if strings.ContainsRune(l.Prefix, '$') {
				// nft reads $NAME inside a log prefix as a variable.
				ds.Errorf(l.Pos, "log prefix %q has a '$', which nft would read as a variable", l.Prefix).Hint = "leave the '$' out"
			}
			if l.Level != "" && !slices.Contains(LogLevels, l.Level) {
				ds.Errorf(l.Pos, "unknown log level %q", l.Level).Hint = fmt.Sprintf("use one of %v", LogLevels)
			}
		}
	}
	if r.Comment != "" {
		if err := CheckText("comment", r.Comment, MaxComment); err != nil {
			ds.Errorf(r.Pos, "%v", err)
		}
	}
}

func validatePorts(m *PortMatch, protocols []Protocol, ds *Diagnostics) {
	for i, pr := range m.Ports {
		if pr.First > pr.Last {
			ds.Errorf(pr.Pos, "port range %d-%d is empty: its first port is above its last", pr.First, pr.Last)
		}
		for _, other := range m.Ports[:i] {
			// The kernel refuses overlapping (or equal) elements in one set.
			if pr.First <= other.Last && other.First <= pr.Last {
				ds.Errorf(pr.Pos, "port %s overlaps port %s in one match", pr, other)
			}
		}
	}
	if m.Protocol == AnyTransport {
		if len(protocols) == 0 {
			ds.Errorf(m.Pos, "th %s needs the transport protocol first", m.dir()).Hint =
				"write meta l4proto {tcp, udp} before it, or use tcp " + m.dir() + " / udp " + m.dir()
			return
		}
		for _, p := range protocols {
			if !p.HasPorts() {
				ds.Errorf(m.Pos, "th %s cannot match protocol %s, which has no ports", m.dir(), p)
			}
		}
		return
	}
	if protocols != nil && !slices.Contains(protocols, m.Protocol) {
		ds.Errorf(m.Pos, "%s %s contradicts the protocol match before it: no packet is both", m.Protocol, m.dir())
	}
}

func (m *PortMatch) dir() string {
	if m.Destination {
		return "dport"
	}
	return "sport"
}

func validateAddresses(m *AddressMatch, ds *Diagnostics) {
	for _, e := range m.Set {
		if e.Family() != m.Family {
			want, got := "IPv4", "IPv6"
			if m.Family == IPv6 {
				want, got = got, want
			}
			d := ds.Errorf(e.Pos, "%s address %s in an %s match", got, e, want)
			if m.Family == IPv4 {
				d.Hint = "use ip6 saddr / ip6 daddr for IPv6 addresses"
			} else {
				d.Hint = "use ip saddr / ip daddr for IPv4 addresses"
			}
			return
		}
	}
	if m.SetName != "" {
		if err := CheckName(m.SetName); err != nil {
			ds.Errorf(m.Pos, "bad set name: %v", err)
		}
		return // a named set is merged, overlaps and all
	}
	// Sorted by first address, any overlap shows between neighbours. The
	// kernel refuses overlapping interval elements, and a duplicate is a typo.
	sorted := slices.Clone(m.Set)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].From.Less(sorted[j].From) })
	var maxTo netip.Addr
	var maxElem AddrElem
	for i, e := range sorted {
		if i > 0 && !maxTo.Less(e.From) {
			// Backends merge overlapping elements (see Elements), so this is
			// a warning: likely a typo, but no wrong rule.
			if e.From == maxElem.From && e.To == maxElem.To {
				ds.Warnf(e.Pos, "%s appears twice in this set", e).Hint = "the first is at " + maxElem.Pos.String()
			} else {
				ds.Warnf(e.Pos, "%s overlaps %s in the same set", e, maxElem).Hint = "ksc merges them; write the set without the overlap"
			}
		}
		if i == 0 || maxTo.Less(e.To) {
			maxTo, maxElem = e.To, e
		}
	}
}
