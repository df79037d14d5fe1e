package iptables

// The fields table: how each IR field is written as iptables options.

import (
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// iptField lowers one IR field. Every field of ir.AllFields has a row (a
// test checks it); a field without one is refused by Render, never dropped.
type iptField func(lw *lowering, m *ir.Match, r *ir.Rule) *ir.Diagnostic

var fieldLowerings = map[ir.Field]iptField{
	ir.FieldIifname:  interfaces(func(a *alternative) *slot { return &a.in }),
	ir.FieldOifname:  interfaces(func(a *alternative) *slot { return &a.out }),
	ir.FieldIif:      byIndex(interfaces(func(a *alternative) *slot { return &a.in })),
	ir.FieldOif:      byIndex(interfaces(func(a *alternative) *slot { return &a.out })),
	ir.FieldIPSaddr:  addresses(false),
	ir.FieldIPDaddr:  addresses(true),
	ir.FieldIP6Saddr: addresses(false),
	ir.FieldIP6Daddr: addresses(true),
	ir.FieldL4Proto:  protocols,
	// Ports are written with their protocol, by protocols.
	ir.FieldSport:      func(*lowering, *ir.Match, *ir.Rule) *ir.Diagnostic { return nil },
	ir.FieldDport:      func(*lowering, *ir.Match, *ir.Rule) *ir.Diagnostic { return nil },
	ir.FieldICMPType:   icmpTypes("icmp", "--icmp-type", ir.FieldICMPCode),
	ir.FieldICMPv6Type: icmpTypes("icmp6", "--icmpv6-type", ir.FieldICMPv6Code),
	ir.FieldICMPCode:   icmpCodeWithType(ir.FieldICMPType),
	ir.FieldICMPv6Code: icmpCodeWithType(ir.FieldICMPv6Type),
	ir.FieldMark:       numbers("mark", "--mark", true, ""),
	ir.FieldCtMark:     numbers("connmark", "--mark", true, ""),
	ir.FieldSkuid:      numbers("owner", "--uid-owner", false, "-"),
	ir.FieldSkgid:      numbers("owner", "--gid-owner", false, "-"),
	ir.FieldPkttype:    pkttypes,
	ir.FieldTCPFlags:   tcpFlags,
	// The family decides which of iptables and ip6tables gets the rule
	// (see ir.Rule.Family); nothing is left to write.
	ir.FieldNfproto:    func(*lowering, *ir.Match, *ir.Rule) *ir.Diagnostic { return nil },
	ir.FieldIPProtocol: ipProtocol,
	// ip6tables' -p skips extension headers, as "meta l4proto" does: it
	// cannot say what the first next header is.
	ir.FieldIP6Nexthdr: func(_ *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
		return &ir.Diagnostic{Pos: m.Pos, End: m.End, Message: "the iptables target cannot express ip6 nexthdr: ip6tables -p skips IPv6 extension headers",
			Hint: "that is \"meta l4proto\"; use it, or the nft target"}
	},
	ir.FieldFibDaddrType: addrTypes("--dst-type"),
	ir.FieldFibSaddrType: addrTypes("--src-type"),
	ir.FieldFibRPF:       rpfilter,
	ir.FieldFibDaddrIifType: func(lw *lowering, m *ir.Match, r *ir.Rule) *ir.Diagnostic {
		if lw.family == ir.IPv6 {
			return &ir.Diagnostic{Pos: m.Pos, End: m.End, Message: "the ip6tables target cannot express fib daddr . iif type: ksc has not shown ip6tables' addrtype --limit-iface-in to agree with it",
				Hint: "bind the rule to IPv4 (meta nfproto ipv4), or use the nft target"}
		}
		if d := addrTypes("--dst-type")(lw, m, r); d != nil {
			return d
		}
		lw.addMatches("--limit-iface-in")
		return nil
	},
	ir.FieldFibDaddrOif: func(_ *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
		return &ir.Diagnostic{Pos: m.Pos, End: m.End, Message: "the iptables target cannot express fib daddr oif: iptables has no match on a route to the destination (rpfilter looks up the source's)",
			Hint: "use the nft target"}
	},
	ir.FieldIPTTL: hops("ttl"),
	// iptables' length is the IPv4 total length, or the IPv6 payload
	// length and the 40 bytes of its header: the packet's, as meta length.
	ir.FieldMetaLength: numbers("length", "--length", false, ":"),
	ir.FieldCtStatus:   ctStatus,
	ir.FieldPriority: func(_ *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
		return &ir.Diagnostic{Pos: m.Pos, End: m.End, Message: "the iptables target cannot express meta priority: iptables sets a packet's class (CLASSIFY) but has no match on it",
			Hint: "use the nft target"}
	},
	ir.FieldIifgroup:    devgroup,
	ir.FieldOifgroup:    devgroup,
	ir.FieldIP6Hoplimit: hops("hl"),
	ir.FieldIPDSCP:      dscp,
	ir.FieldIP6DSCP:     dscp,
	// Like nft's, conntrack's --ctdir holds for no packet without a
	// connection (invalid, untracked), whichever way it asks.
	ir.FieldCtDirection: func(lw *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
		dirs := ir.Numbers(m.Effective())
		if len(dirs) != 1 {
			return cannot(m, "match one direction, or ct state new,established,related for every tracked packet")
		}
		lw.addMatches("-m", "conntrack", "--ctdir", strings.ToUpper(ir.KindCtDirection.NameOf(dirs[0])))
		return nil
	},
	ir.FieldCtState: func(lw *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
		if m.Op == ir.Neq {
			lw.addMatches("-m", "conntrack", "!", "--ctstate", ctStates(m.Values))
		} else {
			lw.addMatches("-m", "conntrack", "--ctstate", ctStates(m.Values))
		}
		return nil
	},
}

// rpfilter is fib saddr . iif oif at prerouting in the raw and mangle
// tables, the only place iptables takes it: both let a packet from the
// loopback through, and find no route back when it is local; for IPv6
// both pass a packet from :: or a link-local source on its link.
func rpfilter(lw *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
	if lw.table != "raw" && lw.table != "mangle" || lw.chain != "PREROUTING" && lw.chain != ownChain("PREROUTING") {
		return &ir.Diagnostic{Pos: m.Pos, End: m.End, Message: "the iptables target cannot express fib saddr . iif oif here: iptables' rpfilter works at prerouting in the raw and mangle tables only",
			Hint: "match it in a chain of hook prerouting priority raw or mangle, or use the nft target"}
	}
	found := ir.Numbers(m.Effective())
	switch {
	case len(found) != 1:
		return cannot(m, "a route back either exists or is missing")
	case ir.KindPresence.NameOf(found[0]) == "exists":
		lw.addMatches("-m", "rpfilter")
	default:
		lw.addMatches("-m", "rpfilter", "--invert")
	}
	return nil
}

// Header fields at a fixed place (ip length, tcp window) have no
// iptables match but u32's, which reads past no IPv6 extension header as
// nft's transport header does: refused by name.
func init() {
	for level := 1; level <= ir.MaxCgroupLevel; level++ {
		fieldLowerings[ir.CgroupField(level)] = cgroupPath
	}
	for _, f := range ir.AllFields() {
		if _, ok := fieldLowerings[f]; !ok && f.Spec().Place.Header != ir.NoHeader {
			fieldLowerings[f] = func(_ *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
				return &ir.Diagnostic{Pos: m.Pos, End: m.End, Message: "the iptables target cannot express " + m.Field.String() + ": iptables has no match for this header field",
					Hint: "use the nft target"}
			}
		}
	}
}

// cgroupPath writes "-m cgroup --path PATH": the cgroup and every one
// below it, as socket cgroupv2 at the path's own level (which validation
// requires) holds. Both hold for no packet without a socket.
func cgroupPath(lw *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
	paths := ir.ValueStrings(ir.KindCgroup, m.Values)
	if len(paths) != 1 {
		return cannot(m, "iptables' cgroup match takes one path: write a rule for each cgroup, or use the nft target")
	}
	if m.Op == ir.Neq {
		// A socket in a cgroup above the level (the root's, at level 1)
		// has no cgroup there: nft's match holds for none of them,
		// iptables' "! --path" for all.
		return &ir.Diagnostic{Pos: m.Pos, End: m.End, Message: "the iptables target cannot express " + m.Text() +
			": iptables' ! --path also holds for a socket in a cgroup above that level (the root cgroup's), which socket cgroupv2 never matches",
			Hint: "match the cgroups to let through instead, or use the nft target"}
	}
	lw.addMatches("-m", "cgroup", "--path", paths[0])
	return nil
}

// ctStatus writes "-m conntrack --ctstatus DNAT,SNAT", which holds when
// any of the bits is set (nft's bare "ct status dnat,snat"), or with "!"
// when none is; nft's exact comparisons and sets it cannot say.
func ctStatus(lw *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
	values := ir.Numbers(m.Values)
	single := m.Mask&(m.Mask-1) == 0
	var anyOf bool
	switch {
	case m.Mask == 0 || len(values) != 1:
		return cannot(m, "iptables' --ctstatus holds when any of its bits is set: write ct status dnat,snat, or use the nft target")
	case values[0] == 0:
		anyOf = m.Op == ir.Neq
	case values[0] == m.Mask && single:
		anyOf = m.Op == ir.Eq
	default:
		return cannot(m, "iptables' --ctstatus holds when any of its bits is set: write ct status dnat,snat, or use the nft target")
	}
	// The nat bits are --ctstate's virtual SNAT and DNAT states, which
	// test them; the others --ctstatus's.
	var names, nat []string
	for _, n := range ir.CtStatusNames {
		switch {
		case m.Mask&n.Value == 0:
		case n.Name == "dying":
			return cannot(m, "iptables' --ctstatus has no DYING; use the nft target")
		case n.Name == "snat" || n.Name == "dnat":
			nat = append(nat, strings.ToUpper(n.Name))
		default:
			names = append(names, strings.ToUpper(strings.ReplaceAll(n.Name, "-", "_")))
		}
	}
	option := "--ctstatus"
	switch {
	case len(names) > 0 && len(nat) > 0:
		return cannot(m, "iptables tests snat and dnat with --ctstate and the other bits with --ctstatus: match them in two rules, or use the nft target")
	case len(nat) > 0:
		option, names = "--ctstate", nat
	}
	args := []string{"-m", "conntrack", option, strings.Join(names, ",")}
	if !anyOf {
		args = []string{"-m", "conntrack", "!", option, strings.Join(names, ",")}
	}
	lw.addMatches(args...)
	return nil
}

// devgroup refuses interface groups: iptables-save names them from the
// machine's /etc/iproute2/group, which status could not compare.
func devgroup(_ *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
	return &ir.Diagnostic{Pos: m.Pos, End: m.End, Message: "the iptables target cannot express " + m.Field.String() + ": iptables-save names groups from the machine's /etc/iproute2/group",
		Hint: "use the nft target"}
}

// byIndex writes iif and oif as iifname and oifname where that is the
// same: on lo, which every namespace has from its start to its end with
// index 1. iptables matches any other interface by name, and so would go
// on matching one deleted and made again, which iif does not.
func byIndex(byName iptField) iptField {
	return func(lw *lowering, m *ir.Match, r *ir.Rule) *ir.Diagnostic {
		if !m.Values.Equal(ir.InterfaceSet("lo")) {
			name := m.Field.String() + "name"
			return &ir.Diagnostic{Pos: m.Pos, End: m.End,
				Message: "the iptables target cannot express " + m.Field.String() + " but on lo: iptables matches interfaces by name, and " + m.Field.String() + " by the index the interface had when the policy was loaded",
				Hint:    "write " + name + ", which matches the name (and an interface made again), or use the nft target"}
		}
		return byName(lw, m, r)
	}
}

// addrTypes writes "-m addrtype --dst-type LOCAL" (or --src-type): for IPv4 it asks the
// routing tables as fib does, and a list of types holds for any of them.
// ip6tables' addrtype is another match: its list must hold all together,
// its UNICAST holds for local addresses too (fib's unicast does not), and
// it knows no broadcast (which no IPv6 destination is) nor the rarer
// types. Only what it says exactly is written.
func addrTypes(option string) iptField {
	return func(lw *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
		var types []string
		for _, v := range ir.Numbers(m.Values) {
			name := ir.KindAddrType.NameOf(v)
			if lw.family == ir.IPv6 && name == "broadcast" {
				continue
			}
			types = append(types, name)
		}
		not := []string{}
		if m.Op == ir.Neq {
			not = []string{"!"}
		}
		if lw.family == ir.IPv4 {
			lw.addMatches(slices.Concat([]string{"-m", "addrtype"}, not, []string{option, strings.ToUpper(strings.Join(types, ","))})...)
			return nil
		}
		refuse := func(why string) *ir.Diagnostic {
			return &ir.Diagnostic{Pos: m.Pos, End: m.End, Message: "the ip6tables target cannot express " + m.Text() + ": " + why,
				Hint: "match IPv4 and IPv6 in separate rules with one type each (local, unicast or multicast), or use the nft target"}
		}
		switch {
		case len(types) == 0 && m.Op == ir.Eq:
			lw.alts = nil // only broadcasts, which IPv6 has none of
			return nil
		case len(types) == 0:
			return nil // not a broadcast: every IPv6 packet
		case len(types) > 1:
			return refuse("ip6tables' addrtype holds when all the types it lists hold, not any")
		}
		// Each type as addrtype matches that must all hold; ip6tables' LOCAL
		// also holds for a local route's subnet-router anycast address, which
		// fib calls anycast.
		is := func(t string) []string { return []string{"-m", "addrtype", option, t} }
		isNot := func(t string) []string { return []string{"-m", "addrtype", "!", option, t} }
		add := func(alts ...[]string) {
			choices := make([]choice, len(alts))
			for i, args := range alts {
				choices[i] = func(a alternative) alternative {
					a.matches = append(slices.Clone(a.matches), args...)
					return a
				}
			}
			lw.expand(choices)
		}
		switch {
		case types[0] == "local" && m.Op == ir.Eq:
			add(slices.Concat(is("LOCAL"), isNot("ANYCAST")))
		case types[0] == "local":
			// Not local: not LOCAL, or LOCAL and ANYCAST; two rules that no
			// packet holds both of.
			add(isNot("LOCAL"), slices.Concat(is("LOCAL"), is("ANYCAST")))
		case types[0] == "multicast" || types[0] == "anycast":
			add(slices.Concat([]string{"-m", "addrtype"}, not, []string{option, strings.ToUpper(types[0])}))
		case types[0] == "unicast" && m.Op == ir.Eq:
			// ip6tables' UNICAST is a property of the address alone.
			add(slices.Concat(is("UNICAST"), isNot("LOCAL"), isNot("ANYCAST"), isNot("UNREACHABLE")))
		case types[0] == "unicast":
			return refuse("not unicast is several kinds of address that ip6tables' addrtype tells apart otherwise")
		default:
			return refuse("ip6tables' addrtype does not know " + types[0] + " as fib does")
		}
		return nil
	}
}

// icmpTypes writes "-m icmp --icmp-type 8", with the code when the rule
// has one ("--icmp-type 3/3"): iptables matches a code only with its type.
func icmpTypes(module, option string, codeField ir.Field) iptField {
	return func(lw *lowering, m *ir.Match, r *ir.Rule) *ir.Diagnostic {
		types := ir.Numbers(m.Values)
		code := r.Match(codeField)
		if m.Op == ir.Neq {
			if len(types) > 1 || code != nil {
				return cannot(m, "iptables negates one ICMP type, without a code; use the nft target")
			}
			lw.addMatches("-m", module, "!", option, strconv.Itoa(int(types[0])))
			return nil
		}
		var codes []uint32
		if code != nil {
			if code.Op == ir.Neq {
				return cannot(code, "iptables cannot negate an ICMP code; use the nft target")
			}
			codes = ir.Numbers(code.Values)
		}
		var choices []choice
		for _, t := range types {
			values := []string{strconv.Itoa(int(t))}
			if codes != nil {
				values = nil
				for _, c := range codes {
					values = append(values, fmt.Sprintf("%d/%d", t, c))
				}
			}
			for _, v := range values {
				choices = append(choices, func(a alternative) alternative {
					a.matches = append(slices.Clone(a.matches), "-m", module, option, v)
					return a
				})
			}
		}
		lw.expand(choices)
		return nil
	}
}

// icmpCodeWithType checks that an ICMP code comes with its type, which
// writes both.
func icmpCodeWithType(typeField ir.Field) iptField {
	return func(_ *lowering, m *ir.Match, r *ir.Rule) *ir.Diagnostic {
		if r.Match(typeField) == nil {
			return cannot(m, "iptables matches an ICMP code only together with its type: add "+typeField.String())
		}
		return nil
	}
}

// numbers writes a match of numbers with one option a rule: the fewer of
// a rule for each value or range, or one negated. rangeSep joins a
// range's ends as the module reads them; a module without ranges (mark)
// has none, and its ranges are refused.
func numbers(module, option string, hex bool, rangeSep string) iptField {
	return func(lw *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
		if m.Op == ir.Neq && len(m.Values) > 1 {
			return cannot(m, negatedSetHint)
		}
		number := func(v uint64) string {
			if hex {
				return fmt.Sprintf("0x%x", v)
			}
			return strconv.FormatUint(v, 10)
		}
		choices := make([]choice, 0, len(m.Values))
		for _, sp := range m.Values {
			text := number(sp.Lo.Uint())
			if sp.Lo != sp.Hi {
				if rangeSep == "" {
					return cannot(m, "iptables' "+module+" match compares one value: list them, or use the nft target")
				}
				text += rangeSep + number(sp.Hi.Uint())
			}
			if m.Mask != 0 {
				text += fmt.Sprintf("/0x%x", m.Mask)
			}
			args := []string{"-m", module, option, text}
			if m.Op == ir.Neq {
				args = []string{"-m", module, "!", option, text}
			}
			choices = append(choices, func(a alternative) alternative {
				a.matches = append(slices.Clone(a.matches), args...)
				return a
			})
		}
		lw.expand(choices)
		return nil
	}
}

// hops writes a TTL or hop limit match with module ttl (hl for IPv6),
// which compares with one number: --ttl-eq, --ttl-lt or --ttl-gt. Each
// span of what the match holds for is one rule (a range inside 0-255 two
// comparisons); one value negated is "! --ttl-eq".
func hops(module string) iptField {
	return func(lw *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
		cmp := func(op string, v uint64) []string {
			return []string{"-m", module, "--" + module + "-" + op, strconv.FormatUint(v, 10)}
		}
		if m.Op == ir.Neq && len(m.Values) == 1 && m.Values[0].Lo == m.Values[0].Hi {
			lw.addMatches("-m", module, "!", "--"+module+"-eq", strconv.FormatUint(m.Values[0].Lo.Uint(), 10))
			return nil
		}
		top := m.Field.Spec().Kind.Max()
		var choices []choice
		for _, sp := range m.Effective() {
			lo, hi := sp.Lo.Uint(), sp.Hi.Uint()
			var args []string
			switch {
			case lo == hi:
				args = cmp("eq", lo)
			case lo == 0 && hi == top:
			case lo == 0:
				args = cmp("lt", hi+1)
			case hi == top:
				args = cmp("gt", lo-1)
			default:
				args = append(cmp("gt", lo-1), cmp("lt", hi+1)...)
			}
			choices = append(choices, func(a alternative) alternative {
				a.matches = append(slices.Clone(a.matches), args...)
				return a
			})
		}
		lw.expand(choices)
		return nil
	}
}

// dscp writes "-m dscp --dscp N", which compares one value: the fewer
// of a rule for each value the match holds for, or one rule that is none
// of those it does not ("! --dscp" for each), so that a line stays within
// what iptables-restore reads (255 words): at most 32 of either. Values
// are written as iptables-save lists them.
func dscp(lw *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
	arg := func(v uint32) string { return fmt.Sprintf("0x%02x", v) }
	holds := ir.Numbers(m.Effective())
	if not := ir.Numbers(m.Field.Spec().Kind.Universe().Minus(m.Effective())); len(not) < len(holds) {
		for _, v := range not {
			lw.addMatches("-m", "dscp", "!", "--dscp", arg(v))
		}
		return nil
	}
	var choices []choice
	for _, v := range holds {
		choices = append(choices, func(a alternative) alternative {
			a.matches = append(slices.Clone(a.matches), "-m", "dscp", "--dscp", arg(v))
			return a
		})
	}
	lw.expand(choices)
	return nil
}

// tcpFlags writes "-m tcp --tcp-flags MASK COMPARE": (flags & MASK) ==
// COMPARE. iptables knows six flags (not ECN or CWR), so a match that
// reads those, or all eight bits, is refused.
func tcpFlags(lw *lowering, m *ir.Match, r *ir.Rule) *ir.Diagnostic {
	each, d := tcpFlagsArgs(m)
	if d != nil {
		return d
	}
	if r.Match(ir.FieldSport) != nil || r.Match(ir.FieldDport) != nil {
		return nil // written with the ports, in their -m tcp (see portCombos)
	}
	choices := make([]choice, len(each))
	for i, args := range each {
		choices[i] = func(a alternative) alternative {
			a.matches = append(append(slices.Clone(a.matches), "-m", "tcp"), args...)
			return a
		}
	}
	lw.expand(choices)
	return nil
}

// tcpFlagsArgs is a tcp flags match's options of the tcp module: one
// --tcp-flags for each value of a set, each a rule of its own.
func tcpFlagsArgs(m *ir.Match) ([][]string, *ir.Diagnostic) {
	mask := m.Mask
	if mask == 0 || mask&^0x3f != 0 {
		return nil, cannot(m, "iptables compares the six flags fin, syn, rst, psh, ack and urg only: write tcp flags & (fin|syn|rst|psh|ack|urg) == ...")
	}
	values := ir.Numbers(m.Values)
	if m.Op == ir.Neq && len(values) > 1 {
		return nil, cannot(m, negatedSetHint)
	}
	names := func(v uint32) string {
		var out []string
		for _, n := range []struct {
			name string
			bit  uint32
		}{{"FIN", 0x01}, {"SYN", 0x02}, {"RST", 0x04}, {"PSH", 0x08}, {"ACK", 0x10}, {"URG", 0x20}} {
			if v&n.bit != 0 {
				out = append(out, n.name)
			}
		}
		if len(out) == 0 {
			return "NONE"
		}
		return strings.Join(out, ",")
	}
	if m.Op == ir.Neq && len(values) == 1 && values[0] == 0 && bits.OnesCount32(mask) == 1 {
		// "tcp flags syn": the one flag is set, as iptables users write
		// it (--syn is SYN,RST,ACK,FIN SYN), and as TCPMSS requires.
		return [][]string{{"--tcp-flags", names(mask), names(mask)}}, nil
	}
	each := make([][]string, len(values))
	for i, v := range values {
		each[i] = []string{"--tcp-flags", names(mask), names(v)}
		if m.Op == ir.Neq {
			each[i] = append([]string{"!"}, each[i]...)
		}
	}
	return each, nil
}

// pkttypes writes "-m pkttype --pkt-type broadcast"; iptables calls host
// unicast, and has no "other".
func pkttypes(lw *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
	values := ir.Numbers(m.Values)
	if m.Op == ir.Neq && len(values) > 1 {
		return cannot(m, negatedSetHint)
	}
	names := map[uint32]string{0: "unicast", 1: "broadcast", 2: "multicast"}
	choices := make([]choice, len(values))
	for i, v := range values {
		name, ok := names[v]
		if !ok {
			return cannot(m, "iptables' pkttype match knows unicast, broadcast and multicast only")
		}
		args := []string{"-m", "pkttype", "--pkt-type", name}
		if m.Op == ir.Neq {
			args = []string{"-m", "pkttype", "!", "--pkt-type", name}
		}
		choices[i] = func(a alternative) alternative {
			a.matches = append(slices.Clone(a.matches), args...)
			return a
		}
	}
	lw.expand(choices)
	return nil
}

// cannot is the error for what iptables cannot say in one rule.
func cannot(m *ir.Match, hint string) *ir.Diagnostic {
	return &ir.Diagnostic{Pos: m.Pos, End: m.End, Message: fmt.Sprintf("the iptables target cannot express %s in one rule", m.Text()), Hint: hint}
}

const negatedSetHint = "iptables negates one value a rule; split the set, or use the nft target"

func interfaces(at func(*alternative) *slot) iptField {
	return func(lw *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
		names := ir.ValueStrings(ir.KindInterface, m.Values)
		if m.Op == ir.Neq && len(names) > 1 {
			return cannot(m, negatedSetHint)
		}
		choices := make([]choice, len(names))
		for i, n := range names {
			// iptables writes nft's "eth*" as "eth+".
			name := strings.TrimSuffix(n, "*")
			if name != n {
				name += "+"
			}
			choices[i] = func(a alternative) alternative {
				*at(&a) = slot{name, m.Op == ir.Neq}
				return a
			}
		}
		lw.expand(choices)
		return nil
	}
}

func addresses(destination bool) iptField {
	return func(lw *lowering, m *ir.Match, _ *ir.Rule) *ir.Diagnostic {
		if m.SetName != "" {
			return ipsetMatch(lw, m, destination)
		}
		set := ir.Addrs(m.Field.Spec().Kind, m.Values)
		if m.Op == ir.Neq && len(set) > 1 {
			// Touching elements are one range: one "!" can still say it.
			if set = ir.MergeRanges(set); len(set) > 1 {
				return cannot(m, negatedSetHint)
			}
		}
		choices := make([]choice, len(set))
		for i, e := range set {
			choices[i] = addressChoice(e, destination, m.Op == ir.Neq)
		}
		lw.expand(choices)
		return nil
	}
}

// ipProtocol writes "ip protocol" as -p: IPv4 has no extension headers,
// so its protocol field is the transport protocol, which -p matches. A
// rule that also matches "meta l4proto" writes -p from that; the IPv4
// protocol then adds nothing only when the l4proto values lie inside it.
func ipProtocol(lw *lowering, m *ir.Match, r *ir.Rule) *ir.Diagnostic {
	if l4 := r.Match(ir.FieldL4Proto); l4 != nil {
		if l4.Op == ir.Eq && m.Op == ir.Eq && m.Values.Contains(l4.Values) {
			return nil
		}
		return cannot(m, "iptables has one -p a rule: match the protocol once (ip protocol or meta l4proto)")
	}
	return protocols(lw, m, r)
}

// protocols writes the protocol match and, for each protocol, its ports:
// "-p tcp -m tcp --dport 22", or multiport for several.
func protocols(lw *lowering, m *ir.Match, r *ir.Rule) *ir.Diagnostic {
	ps := ir.Protocols(m.Values)
	for _, p := range ps {
		if p != ir.TCP && p != ir.UDP && p != ir.ICMP && p != ir.ICMPv6 {
			// iptables-save would print it by this machine's
			// /etc/protocols name, which status could not compare.
			return &ir.Diagnostic{Pos: m.Pos, End: m.End, Message: fmt.Sprintf("the iptables target cannot express protocol %s: iptables-save names it from the machine's /etc/protocols", p),
				Hint: "match tcp, udp, icmp or icmpv6 for the iptables targets, or use the nft target"}
		}
	}
	if m.Op == ir.Neq {
		if len(ps) > 1 {
			return cannot(m, negatedSetHint)
		}
		lw.expand([]choice{func(a alternative) alternative {
			a.proto = slot{ps[0].String(), true}
			return a
		}})
		return nil
	}
	var ports []*ir.Match
	for _, f := range []ir.Field{ir.FieldSport, ir.FieldDport} {
		if pm := r.Match(f); pm != nil {
			ports = append(ports, pm)
		}
	}
	var choices []choice
	flags := [][]string{nil} // tcp flags share the ports' -m tcp, as iptables-save lists them
	if fm := r.Match(ir.FieldTCPFlags); fm != nil && len(ports) > 0 {
		var d *ir.Diagnostic
		if flags, d = tcpFlagsArgs(fm); d != nil {
			return d
		}
	}
	for _, p := range ps {
		options := flags
		if p != ir.TCP {
			options = [][]string{nil}
		}
		for _, extra := range options {
			combos, d := portCombos(p, ports, extra)
			if d != nil {
				return d
			}
			for _, combo := range combos {
				choices = append(choices, func(a alternative) alternative {
					a.proto = slot{value: p.String()}
					a.matches = append(slices.Clone(a.matches), combo...)
					return a
				})
			}
		}
	}
	lw.expand(choices)
	return nil
}

func addressChoice(e ir.AddrElem, destination, negated bool) choice {
	return func(a alternative) alternative {
		switch {
		case e.Prefix.IsValid():
			a = setAddr(a, destination, slot{e.Prefix.String(), negated})
		case e.From == e.To:
			bits := 32
			if e.From.Is6() {
				bits = 128
			}
			a = setAddr(a, destination, slot{fmt.Sprintf("%s/%d", e.From, bits), negated})
		default:
			flag := "--src-range"
			if destination {
				flag = "--dst-range"
			}
			args := []string{"-m", "iprange", flag, e.From.String() + "-" + e.To.String()}
			if negated {
				args = []string{"-m", "iprange", "!", flag, e.From.String() + "-" + e.To.String()}
			}
			a.matches = append(slices.Clone(a.matches), args...)
		}
		return a
	}
}

func setAddr(a alternative, destination bool, v slot) alternative {
	if destination {
		a.dst = v
	} else {
		a.src = v
	}
	return a
}

// ctStates lists states in the order iptables-save prints them.
func ctStates(set ir.Set) string {
	var out []string
	for _, st := range []ir.CtState{ir.CtInvalid, ir.CtNew, ir.CtRelated, ir.CtEstablished, ir.CtUntracked} {
		if set.Has(ir.CtStateSet(st)[0].Lo) {
			out = append(out, strings.ToUpper(st.String()))
		}
	}
	return strings.Join(out, ",")
}
