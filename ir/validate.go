package ir

import (
	"fmt"
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
		if c.Hook == 0 || c.Hook > HookPostrouting {
			ds.Errorf(c.Pos, "chain %s has no hook", c.Name).Hint = "add one of: hook " + strings.Join(HookNames, ", hook ")
		}
		if c.Policy != Accept && c.Policy != Drop {
			ds.Errorf(c.Pos, "chain %s has policy %q; a chain's policy is accept or drop", c.Name, c.Policy)
		}
		for _, rules := range [][]*Rule{c.Rules, c.Disabled} {
			for _, r := range rules {
				validateRule(t, c, r, ds)
				if r.Verdict == Reject && c.Hook == HookPostrouting {
					// The kernel can only answer a packet it has not yet routed out.
					ds.Errorf(r.Pos, "reject cannot be used in a postrouting chain").Hint = "use drop here, or reject in the output or forward chain"
				}
			}
		}
	}
}

func validateRule(t *Table, c *Chain, r *Rule, ds *Diagnostics) {
	valid := true
	for _, m := range r.Matches {
		valid = validateMatch(t, c, m, ds) && valid
	}
	if valid && normalize(r, ds) {
		validateFamily(t, r, ds)
		validatePorts(r, ds)
		validateReject(t, r, ds)
	}
	for _, s := range r.Statements {
		if m, ok := s.(*MarkSet); ok && m.NeedsConntrack() && (c.Hook == HookPrerouting || c.Hook == HookOutput) && c.Priority <= PriorityConntrack {
			ds.Errorf(m.Pos, "%s in chain %s finds no connection: the chain runs at priority %d, before conntrack (%d)", m.Text(), c.Name, c.Priority, PriorityConntrack).Hint =
				fmt.Sprintf("give the chain a priority above %d (mangle is -150, filter 0)", PriorityConntrack)
		}
		if l, ok := s.(*Log); ok {
			if err := CheckText("log prefix", l.Prefix, MaxLogPrefix); err != nil {
				ds.Errorf(l.Pos, "%v", err)
			} else if strings.ContainsRune(l.Prefix, '$') {
				// nft reads $NAME inside a log prefix as a variable.
				ds.Errorf(l.Pos, "log prefix %q has a '$', which nft would read as a variable", l.Prefix).Hint = "leave the '$' out"
			}
			if int(l.Level) > len(LogLevels) {
				ds.Errorf(l.Pos, "unknown log level %d", l.Level).Hint = fmt.Sprintf("use one of %v", LogLevels)
			}
			if l.ToGroup && (l.Level != LogDefault || l.Flags != 0) {
				// nfnetlink_log hands the whole packet to a program; level
				// and flags are for kernel log lines.
				ds.Errorf(l.Pos, "log group sends the packet to nfnetlink_log: it takes no level and no flags").Hint =
					"drop the level and flags, or the group"
			}
			if l.Flags&^LogAllFlags != 0 {
				ds.Errorf(l.Pos, "unknown log flags %#x", uint8(l.Flags))
			}
		}
	}
	if r.Comment != "" {
		if err := CheckText("comment", r.Comment, MaxComment); err != nil {
			ds.Errorf(r.Pos, "%v", err)
		}
	}
}

// validateMatch checks one match on its own: its field, values, and
// whether the field can hold at all where the chain runs.
func validateMatch(t *Table, c *Chain, m *Match, ds *Diagnostics) bool {
	if m.Field == 0 || m.Field >= fieldEnd {
		ds.Errorf(m.Pos, "unknown field %d", m.Field)
		return false
	}
	spec := m.Field.Spec()
	if m.Values.IsEmpty() {
		ds.Errorf(m.Pos, "%s has no values", spec.Name)
		return false
	}
	if !spec.Kind.Universe().Contains(m.Values) {
		ds.Errorf(m.Pos, "%s has a value that is not one of %s", spec.Name, spec.Kind)
		return false
	}
	if spec.Kind == KindTCPFlags && (len(m.Values) != 1 || m.Values[0].Lo != m.Values[0].Hi) {
		ds.Errorf(m.Pos, "tcp flags compares with one value").Hint = "tcp flags syn,ack holds when either is set; tcp flags & (syn|ack) == syn compares under a mask"
		return false
	}
	if m.Mask != 0 && !spec.Maskable {
		ds.Errorf(m.Pos, "%s takes no mask", spec.Name)
		return false
	}
	if m.Protocol != AnyTransport && !m.Protocol.HasPorts() {
		ds.Errorf(m.Pos, "%s implies protocol %s, which has no ports", spec.Name, m.Protocol)
		return false
	}
	ok := true
	if spec.Kind == KindInterface {
		for _, sp := range m.Values {
			name, printable := InterfacePattern(sp)
			if !printable {
				ds.Errorf(m.Pos, "%s has a value that is neither an interface name nor a \"prefix*\" wildcard", spec.Name)
				return false
			}
			if err := CheckInterfaceName(name); err != nil {
				ds.Errorf(m.Pos, "%v", err).Hint = interfaceHint(name)
				ok = false
			}
		}
	}
	if m.SetName != "" {
		if err := CheckName(m.SetName); err != nil {
			ds.Errorf(m.Pos, "bad set name: %v", err)
			ok = false
		}
	}
	if f := spec.Family; !t.Family.Covers(f) {
		ds.Errorf(m.Pos, "this %s match can never hold in table %s %s", f, t.Family, t.Name).Hint =
			"an " + t.Family.String() + " table only sees " + t.Family.String() + " packets"
		ok = false
	}
	if c.Hook != 0 && !spec.Hooks.Has(c.Hook) {
		d := ds.Errorf(m.Pos, "%s never holds in chain %s: packets at hook %s have no %s", spec.Name, c.Name, c.Hook, hookLacks(m.Field))
		d.End = m.End
		d.Hint = hookHint(m.Field)
		ok = false
	}
	if spec.NeedsConntrack && (c.Hook == HookPrerouting || c.Hook == HookOutput) && c.Priority <= PriorityConntrack {
		d := ds.Errorf(m.Pos, "%s in chain %s never sees a conntrack state: the chain runs at priority %d, before conntrack (%d)",
			spec.Name, c.Name, c.Priority, PriorityConntrack)
		d.End = m.End
		d.Hint = fmt.Sprintf("give the chain a priority above %d (mangle is -150, filter 0)", PriorityConntrack)
		ok = false
	}
	return ok
}

func hookLacks(f Field) string {
	switch f {
	case FieldIifname:
		return "input interface"
	case FieldSkuid, FieldSkgid:
		return "local socket that sent them"
	}
	return "output interface"
}

// hookHint says where a field can be matched.
func hookHint(f Field) string {
	if f == FieldSkuid || f == FieldSkgid {
		return "match the sending user or group in output and postrouting chains"
	}
	return "match iifname in input, prerouting and forward chains, oifname in output, postrouting and forward chains"
}

func interfaceHint(name string) string {
	if strings.Contains(name, "+") {
		return "the wildcard is '*', as in nft: \"tun*\" matches tun0, tun1, ..."
	}
	return ""
}

// validateFamily checks that the rule's family-bound matches agree with
// each other and with the table.
func validateFamily(t *Table, r *Rule, ds *Diagnostics) {
	var first *Match
	for _, m := range r.Matches {
		f := m.family()
		if f == Inet {
			continue
		}
		if !t.Family.Covers(f) {
			ds.Errorf(m.Pos, "%s can never hold in table %s %s: it only matches %s packets", m.Text(), t.Family, t.Name, f).Hint =
				"an " + t.Family.String() + " table only sees " + t.Family.String() + " packets"
			return
		}
		if first != nil && first.family() != f {
			d := ds.Errorf(m.Pos, "%s contradicts %s at %s: no packet is both %s and %s", m.Text(), first.Text(), first.Pos, f, first.family())
			d.Hint = "split it into one rule for each family"
			return
		}
		if first == nil {
			first = m
		}
	}
}

// validatePorts checks that a rule matching ports matches only protocols
// that carry them: nft would read other protocols' bytes as ports, and
// iptables cannot say it.
func validatePorts(r *Rule, ds *Diagnostics) {
	proto := r.Match(FieldL4Proto)
	for _, m := range r.Matches {
		if !m.Field.Spec().NeedsPorts {
			continue
		}
		if proto == nil {
			ds.Errorf(m.Pos, "%s needs the transport protocol", m.Field).Hint =
				"write meta l4proto { tcp, udp } before it, or use tcp " + strings.TrimPrefix(m.Field.String(), "th ") +
					" / udp " + strings.TrimPrefix(m.Field.String(), "th ")
			return
		}
		if proto.Op == Neq {
			ds.Errorf(m.Pos, "%s needs the protocols with ports, but %s at %s allows others", m.Field, proto.Text(), proto.Pos).Hint =
				"write meta l4proto { tcp, udp }"
			return
		}
		for _, p := range Protocols(proto.Values) {
			if !p.HasPorts() {
				ds.Errorf(m.Pos, "%s cannot match protocol %s, which has no ports", m.Field, p).Hint =
					"ports are tcp's and udp's: leave " + p.String() + " out of the protocol match at " + proto.Pos.String()
				return
			}
		}
	}
}

// validateReject checks that a reject's answer fits every packet the rule
// holds for: nft would narrow the rule to fit, iptables refuses it, so
// ksc asks for the narrowing to be written.
func validateReject(t *Table, r *Rule, ds *Diagnostics) {
	with := r.RejectWith
	if with.Kind == RejectDefault {
		return
	}
	if r.Verdict != Reject {
		ds.Errorf(r.Pos, "%q needs the reject verdict", with.Text())
		return
	}
	family := r.Family()
	if t.Family != Inet {
		family = t.Family
	}
	switch with.Kind {
	case RejectTCPReset:
		proto := r.Match(FieldL4Proto)
		if proto == nil || proto.Op != Eq || !proto.Values.Equal(ProtocolSet(TCP)) {
			ds.Errorf(r.Pos, "reject with tcp reset needs a rule that holds for TCP only").Hint =
				"add meta l4proto tcp (or a tcp dport match) to the rule"
		}
	case RejectICMP:
		if family != IPv4 {
			ds.Errorf(r.Pos, "reject with icmp answers IPv4 packets only, and this rule holds for IPv6 too").Hint =
				"add an ip match (or meta nfproto ipv4), or use reject with icmpx"
		}
	case RejectICMPv6:
		if family != IPv6 {
			ds.Errorf(r.Pos, "reject with icmpv6 answers IPv6 packets only, and this rule holds for IPv4 too").Hint =
				"add an ip6 match (or meta nfproto ipv6), or use reject with icmpx"
		}
	}
	if codes := with.Kind.Codes(); codes != nil && with.Kind.CodeName(with.Code) == itoa(int(with.Code)) {
		ds.Errorf(r.Pos, "unknown %s code %d", map[RejectKind]string{RejectICMP: "icmp", RejectICMPv6: "icmpv6", RejectICMPX: "icmpx"}[with.Kind], with.Code)
	}
}
