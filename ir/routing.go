package ir

import (
	"fmt"
	"net/netip"
	"slices"
)

// RoutingTable is a routing table a policy declares (what a split tunnel
// needs): its routes, and the rules that send packets with a firewall
// mark to it. ksc applies them after the policy's firewall rules and
// removes them before, so that the rules stay in force while routes
// change.
type RoutingTable struct {
	Pos    Pos
	ID     uint32
	Rules  []RouteRule
	Routes []Route
	// SrcValidMark turns on net.ipv4.conf.all.src_valid_mark, as
	// wg-quick does: reverse-path filtering then looks the route back
	// up with the packet's mark (one a rule restores from its
	// connection's), so that answers to what the table routed are not
	// dropped as spoofed. Like wg-quick, ksc leaves it on.
	SrcValidMark bool
}

// RouteRule sends the packets with Mark to its table, at Priority, in
// both families ("ip rule add fwmark MARK table N priority P").
type RouteRule struct {
	Pos      Pos
	Mark     uint32
	Priority uint32
}

// Route is a route of a table: to Dst, through the gateway Via (zero
// for none) and out of Dev (empty for where Via is).
type Route struct {
	Pos Pos
	Dst netip.Prefix
	Via netip.Addr
	Dev string
}

// DefaultRulePriority is a routing rule's priority when the policy gives
// none: before the main table (32766), after the local one (0).
const DefaultRulePriority = 100

// reservedTables are the kernel's own routing tables.
var reservedTables = map[uint32]string{0: "unspec", 253: "default", 254: "main", 255: "local"}

// validateRouting checks the routing tables: numbers of their own, marks
// the policy itself sets, routes that can be made.
func (p *Policy) validateRouting(ds *Diagnostics) {
	marks := map[uint32]Pos{}
	for i, t := range p.Routing {
		if name, ok := reservedTables[t.ID]; ok {
			ds.Errorf(t.Pos, "routing table %d is the kernel's %s table", t.ID, name).Hint = "number the policy's own table from 1 to 252, or above 255"
		}
		if slices.ContainsFunc(p.Routing[:i], func(o *RoutingTable) bool { return o.ID == t.ID }) {
			ds.Errorf(t.Pos, "routing table %d is declared twice", t.ID).Hint = "write one block per table"
		}
		if len(t.Routes) == 0 {
			ds.Warnf(t.Pos, "routing table %d has no route: the packets its rules send to it are routed by the main table", t.ID)
		}
		for _, r := range t.Rules {
			if at, dup := marks[r.Mark]; dup {
				ds.Errorf(r.Pos, "mark %s is sent to a routing table at %s already", KindMark.NameOf(r.Mark), at).Hint = "give each table a mark of its own"
				continue
			}
			marks[r.Mark] = r.Pos
			p.validateRuleMark(ds, r, t.ID)
		}
		for j, rt := range t.Routes {
			if rt.Via.IsValid() && rt.Via.Is4() != rt.Dst.Addr().Is4() {
				ds.Errorf(rt.Pos, "route to %s through %s: the gateway is of the other family", rt.Dst, rt.Via)
			}
			if !rt.Via.IsValid() && rt.Dev == "" {
				ds.Errorf(rt.Pos, "route to %s needs a gateway (via) or an interface (dev)", rt.Dst).Hint = `e.g. route default via 192.0.2.1 dev "eth0"`
			}
			if slices.ContainsFunc(t.Routes[:j], func(o Route) bool { return o.Dst == rt.Dst }) {
				ds.Errorf(rt.Pos, "table %d has two routes to %s", t.ID, rt.Dst).Hint = "keep one"
			}
		}
	}
}

// validateRuleMark refuses a mark the policy matches but never sets:
// another program marks those packets (wg-quick its tunnel's, 0xca6c),
// and sending them to the table would route that program's packets
// elsewhere. A mark nothing sets routes nothing: a warning.
func (p *Policy) validateRuleMark(ds *Diagnostics, r RouteRule, table uint32) {
	if r.Mark == 0 {
		ds.Errorf(r.Pos, "fwmark 0 is every unmarked packet's").Hint = "use a mark the policy sets (meta mark set)"
		return
	}
	var sets, matches bool
	var late *Chain // a chain that sets the mark after routing, without routing again
	for _, t := range p.Tables {
		for _, c := range t.Chains {
			for _, rule := range c.Rules {
				for _, s := range rule.Statements {
					ms, ok := s.(*MarkSet)
					if !ok || ms.Target != FieldMark || ms.From == 0 && ms.Value != r.Mark {
						continue
					}
					sets = true
					// A route chain at output routes the packet again; at
					// prerouting it is not routed yet. A regular chain
					// may be jumped to from either.
					if c.IsBase() && c.Hook != HookPrerouting && !(c.Hook == HookOutput && c.Type == ChainRoute) && late == nil {
						late = c
					}
				}
				for _, m := range rule.Matches {
					if m.Field == FieldMark && m.Op == Eq && m.Mask == 0 && m.Values.Has(uintKey(uint64(r.Mark))) {
						matches = true
					}
				}
			}
		}
	}
	switch {
	case late != nil:
		ds.Warnf(r.Pos, "chain %s sets mark %s after the packet is routed, and a %s chain at hook %s does not route it again: the routing rule sees the mark only where a type route chain at output (or a chain at prerouting) sets it",
			late.Name, KindMark.NameOf(r.Mark), late.Type, late.Hook).Hint = "set the mark in a chain of type route hook output priority mangle"
	case matches && !sets:
		ds.Errorf(r.Pos, "fwmark %s is a mark the policy matches but never sets: another program marks those packets, and this rule would route them by table %d", KindMark.NameOf(r.Mark), table).Hint =
			"mark the packets to route with a mark of the policy's own (meta mark set in a type route chain)"
	case !sets:
		ds.Warnf(r.Pos, "no rule of the policy sets mark %s: the routing rule sends only what other programs mark", KindMark.NameOf(r.Mark)).Hint =
			"mark what it should route in a type route chain at hook output: meta mark set " + KindMark.NameOf(r.Mark)
	}
}

// RouteText writes a route as a policy line does.
func (r Route) Text() string {
	s := "route " + r.Dst.String()
	if r.Dst.Bits() == 0 && r.Dst.Addr().Is4() {
		s = "route default"
	}
	if r.Via.IsValid() {
		s += " via " + r.Via.String()
	}
	if r.Dev != "" {
		s += fmt.Sprintf(" dev %q", r.Dev)
	}
	return s
}

// Text writes a rule as a policy line does.
func (r RouteRule) Text() string {
	return fmt.Sprintf("rule fwmark %s priority %d", KindMark.NameOf(r.Mark), r.Priority)
}
