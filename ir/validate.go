package ir

import (
	"fmt"
	"slices"
	"strings"
)

// Validate checks that p is a policy every backend can lower faithfully. It
// returns all problems found, positioned at the node that caused each one.
func (p *Policy) Validate() Diagnostics { return p.validate(false) }

// ValidateRead validates a ruleset read from a machine (lang.LoadMachine),
// which the kernel has taken: a match where its hook gives the packet no
// value (Docker's "iifname != docker0" in a nat chain reached from
// output) is what the kernel does, and the simulator follows it (the
// empty name, ir.Packet.Value), where a policy would be refused.
func (p *Policy) ValidateRead() Diagnostics { return p.validate(true) }

func (p *Policy) validate(read bool) Diagnostics {
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
		validateTable(t, read, &ds)
	}
	p.validateRouting(&ds)
	return ds
}

func validateTable(t *Table, read bool, ds *Diagnostics) {
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
		switch {
		case c.Hook > HookPostrouting:
			ds.Errorf(c.Pos, "chain %s has an unknown hook", c.Name)
		case !c.IsBase() && c.Policy != NoVerdict:
			ds.Errorf(c.Pos, "chain %s has no hook", c.Name).Hint = "add one of: hook " + strings.Join(HookNames, ", hook ") +
				"; or, for a chain that only jump and goto reach, leave out type, priority and policy too"
		case c.IsBase() && c.Policy != Accept && c.Policy != Drop:
			ds.Errorf(c.Pos, "chain %s has policy %q; a chain's policy is accept or drop", c.Name, c.Policy)
		case c.Type == ChainNAT:
			validateNATChain(c, ds)
		case c.Type == ChainRoute && c.Hook != HookOutput:
			ds.Errorf(c.Pos, "route chain %s is on hook %s: the kernel routes again only what this machine sends, at output", c.Name, c.Hook).Hint =
				"use hook output priority mangle, or a filter chain"
		case c.Type != ChainFilter && c.Type != ChainRoute:
			ds.Errorf(c.Pos, "chain %s has an unknown type %d", c.Name, c.Type)
		}
	}
	validateSets(t, ds)
	if !validateJumps(t, ds) {
		return
	}
	reached := ReachedFrom(t)
	for _, c := range t.Chains {
		contexts := []*Chain{c}
		if !c.IsBase() {
			contexts = reached[c]
			validateRegularContexts(c, contexts, ds)
		}
		for _, rules := range [][]*Rule{c.Rules, c.Disabled} {
			for _, r := range rules {
				validateRule(t, c, contexts, r, read, ds)
			}
		}
	}
}

// validateJumps checks that every jump and goto names a regular chain of
// the table, and that no chain reaches itself (the kernel refuses loops)
// or lies deeper than the kernel's jump stack. false means the chains
// cannot be walked.
func validateJumps(t *Table, ds *Diagnostics) bool {
	ok := true
	for _, c := range t.Chains {
		for _, rules := range [][]*Rule{c.Rules, c.Disabled} {
			for _, r := range rules {
				if r.Verdict != Jump && r.Verdict != Goto {
					if r.Target != nil {
						ds.Errorf(r.Pos, "a %s rule has a target chain", r.Verdict)
						ok = false
					}
					continue
				}
				switch {
				case r.Target == nil:
					ds.Errorf(r.Pos, "%s has no chain", r.Verdict)
					ok = false
				case !slices.Contains(t.Chains, r.Target):
					ds.Errorf(r.Pos, "%s to chain %s of another table", r.Verdict, r.Target.Name).Hint = "jump and goto stay in their table"
					ok = false
				case r.Target.IsBase():
					ds.Errorf(r.Pos, "%s to chain %s, which has a hook: only regular chains can be jumped to", r.Verdict, r.Target.Name)
					ok = false
				}
			}
		}
	}
	if !ok {
		return false
	}
	// Rules of options not enabled count too: enabling one must not
	// reveal a loop.
	const visiting, done = 1, 2
	state := map[*Chain]int{}
	var path []*Chain
	var walk func(c *Chain) bool
	walk = func(c *Chain) bool {
		state[c] = visiting
		path = append(path, c)
		for _, rules := range [][]*Rule{c.Rules, c.Disabled} {
			for _, r := range rules {
				if r.Target == nil {
					continue
				}
				if state[r.Target] == visiting {
					var names []string
					for _, p := range path[slices.Index(path, r.Target):] {
						names = append(names, p.Name)
					}
					ds.Errorf(r.Pos, "%s %s makes a loop: %s -> %s", r.Verdict, r.Target.Name, strings.Join(names, " -> "), r.Target.Name).Hint =
						"the kernel refuses a ruleset in which a chain can reach itself"
					return false
				}
				if state[r.Target] == 0 && !walk(r.Target) {
					return false
				}
				if len(path) > MaxJumpDepth {
					ds.Errorf(r.Pos, "%s %s nests chains %d deep; the kernel allows %d", r.Verdict, r.Target.Name, len(path), MaxJumpDepth)
					return false
				}
			}
		}
		path = path[:len(path)-1]
		state[c] = done
		return true
	}
	for _, c := range t.Chains {
		if state[c] == 0 && !walk(c) {
			return false
		}
	}
	return true
}

// MaxJumpDepth is the kernel's jump stack (NFT_JUMP_STACK_SIZE): how many
// chains deep a jump may lead from a base chain.
const MaxJumpDepth = 16

// reachedFrom lists, for each regular chain, the base chains whose
// packets it sees: what its rules can match depends on their hooks.
func ReachedFrom(t *Table) map[*Chain][]*Chain {
	out := map[*Chain][]*Chain{}
	for _, base := range t.Chains {
		if !base.IsBase() {
			continue
		}
		seen := map[*Chain]bool{}
		var walk func(c *Chain)
		walk = func(c *Chain) {
			for _, rules := range [][]*Rule{c.Rules, c.Disabled} {
				for _, r := range rules {
					if r.Target != nil && !seen[r.Target] {
						seen[r.Target] = true
						out[r.Target] = append(out[r.Target], base)
						walk(r.Target)
					}
				}
			}
		}
		walk(base)
	}
	return out
}

// validateRule checks a rule of chain c, which runs in the base chains
// contexts (c itself, or those that reach a regular chain).
func validateRule(t *Table, c *Chain, contexts []*Chain, r *Rule, read bool, ds *Diagnostics) {
	valid := true
	for _, m := range r.Matches {
		valid = validateMatch(t, m, ds) && valid
	}
	for _, m := range r.Matches {
		if read {
			break
		}
		for _, ctx := range contexts {
			if !validateMatchAt(ctx, c, m, ds) {
				valid = false
				break
			}
		}
	}
	if valid && normalize(r, t.Family, ds) {
		validateFamily(t, r, ds)
		validatePorts(r, ds)
		validateReject(t, r, ds)
	}
	if r.Verdict == Translate {
		switch {
		case r.NAT == nil:
			ds.Errorf(r.Pos, "a nat verdict without a rewrite")
		case r.NAT.Kind < SNAT || r.NAT.Kind > Redirect:
			ds.Errorf(r.NAT.Pos, "unknown nat kind %d", r.NAT.Kind)
		case (r.NAT.Kind == SNAT || r.NAT.Kind == DNAT) && !r.NAT.Addr.IsValid():
			ds.Errorf(r.NAT.Pos, "%s without an address", r.NAT.Kind)
		case !InNATContext(c, contexts):
			hook := "postrouting priority srcnat"
			if !r.NAT.Kind.Source() {
				hook = "prerouting priority dstnat"
			}
			ds.Errorf(r.NAT.Pos, "%s in chain %s, which is not a nat chain", r.NAT.Text(t.Family), c.Name).Hint = "move it to a chain of type nat hook " + hook
		case r.NAT.AddrLast.IsValid() && (r.NAT.Kind != SNAT && r.NAT.Kind != DNAT || r.NAT.AddrLast.Is4() != r.NAT.Addr.Is4() || r.NAT.AddrLast.Less(r.NAT.Addr)):
			ds.Errorf(r.NAT.Pos, "%s: a range of addresses goes from the lower to the higher, in one family, for snat or dnat", r.NAT.Text(t.Family))
		case r.NAT.PortLast != 0 && r.NAT.PortLast < r.NAT.Port:
			ds.Errorf(r.NAT.Pos, "%s: a range of ports goes from the lower to the higher", r.NAT.Text(t.Family))
		case r.NAT.Port != 0 && !carriesPorts(r):
			ds.Errorf(r.NAT.Pos, "%s rewrites the port, and this rule holds for protocols without ports", r.NAT.Text(t.Family)).Hint =
				"add meta l4proto tcp (or a tcp dport match), or { tcp, udp }"
		case !t.Family.Covers(r.NAT.Family()):
			ds.Errorf(r.NAT.Pos, "%s in table %s %s, which sees no %s packets", r.NAT.Text(t.Family), t.Family, t.Name, r.NAT.Family())
		}
	} else if r.NAT != nil {
		ds.Errorf(r.Pos, "a %s rule with a rewrite", r.Verdict)
	}
	for _, ctx := range contexts {
		if r.Verdict == Reject && ctx.Hook == HookPostrouting {
			// The kernel can only answer a packet it has not yet routed out.
			ds.Errorf(r.Pos, "reject cannot be used in a postrouting chain%s", reachedVia(c, ctx)).Hint = "use drop here, or reject in the output or forward chain"
			break
		}
	}
	for _, s := range r.Statements {
		for _, ctx := range contexts {
			if m, ok := s.(*MarkSet); ok && m.NeedsConntrack() && (ctx.Hook == HookPrerouting || ctx.Hook == HookOutput) && ctx.Priority <= PriorityConntrack {
				ds.Errorf(m.Pos, "%s in chain %s finds no connection: the chain runs at priority %d, before conntrack (%d)%s", m.Text(), c.Name, ctx.Priority, PriorityConntrack, reachedVia(c, ctx)).Hint =
					fmt.Sprintf("give the chain a priority above %d (mangle is -150, filter 0)", PriorityConntrack)
				break
			}
		}
		if m, ok := s.(*MSSSet); ok {
			validateMSSSet(ds, c, contexts, r, m)
		}
		if n, ok := s.(*Notrack); ok {
			validateNotrack(ds, c, contexts, n)
		}
		if l, ok := s.(*Limit); ok && l.Conns != 0 {
			for _, ctx := range contexts {
				if (ctx.Hook == HookPrerouting || ctx.Hook == HookOutput) && ctx.Priority <= PriorityConntrack {
					ds.Errorf(l.Pos, "%s in chain %s counts no connection: the chain runs at priority %d, before conntrack (%d)%s", l.Text(), c.Name, ctx.Priority, PriorityConntrack, reachedVia(c, ctx)).Hint =
						fmt.Sprintf("give the chain a priority above %d (mangle is -150, filter 0)", PriorityConntrack)
					break
				}
			}
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

// validateNATChain checks a nat chain: for now, source NAT of new
// connections on their way out (postrouting), after conntrack, deciding
// nothing but how to rewrite.
func validateNATChain(c *Chain, ds *Diagnostics) {
	switch {
	case c.Hook != HookPostrouting && c.Hook != HookPrerouting && c.Hook != HookOutput:
		ds.Errorf(c.Pos, "nat chain %s is on hook %s; ksc writes nat chains at postrouting (masquerade, snat), prerouting and output (dnat, redirect)", c.Name, c.Hook).Hint =
			"use hook postrouting priority srcnat, or hook prerouting priority dstnat"
	case c.Priority <= PriorityConntrack:
		ds.Errorf(c.Pos, "nat chain %s runs at priority %d, before conntrack (%d): the kernel refuses it", c.Name, c.Priority, PriorityConntrack).Hint = "use priority srcnat (100) at postrouting, dstnat (-100) at prerouting, -100 at output"
	case c.Policy != Accept:
		ds.Errorf(c.Pos, "nat chain %s has policy %s: a nat chain rewrites and filters nothing", c.Name, c.Policy).Hint = "leave the policy out, and drop packets in a filter chain"
	}
	validateNATRules(c, c, ds)
}

// validateNATRules checks the rules of chain c, a nat chain or a regular
// chain that nat chain base reaches: they rewrite, on the hook that
// rewrites what they rewrite, and decide nothing.
func validateNATRules(c, base *Chain, ds *Diagnostics) {
	for _, rules := range [][]*Rule{c.Rules, c.Disabled} {
		for _, r := range rules {
			switch r.Verdict {
			case NoVerdict, Accept, Return, Jump, Goto:
			case Translate:
				if r.NAT != nil && r.NAT.Kind.Source() != (base.Hook == HookPostrouting) {
					where := "postrouting"
					if !r.NAT.Kind.Source() {
						where = "prerouting or output"
					}
					ds.Errorf(r.NAT.Pos, "%s in nat chain %s on hook %s%s: it rewrites the %s, which the kernel does at %s", r.NAT.Kind, c.Name, base.Hook, reachedVia(c, base),
						map[bool]string{true: "source", false: "destination"}[r.NAT.Kind.Source()], where).Hint = "move it to a nat chain on hook " + where
				}
			default:
				ds.Errorf(r.Pos, "%s in nat chain %s%s: a nat chain rewrites and filters nothing", r.Verdict, c.Name, reachedVia(c, base)).Hint = "decide packets' fates in a filter chain; here use masquerade, snat, dnat, redirect, accept or return"
			}
		}
	}
}

// InNATContext reports whether chain c, run from the base chains
// contexts, is a nat chain or a regular chain that only nat chains reach.
func InNATContext(c *Chain, contexts []*Chain) bool {
	if c.IsBase() {
		return c.Type == ChainNAT
	}
	return len(contexts) > 0 && !slices.ContainsFunc(contexts, func(b *Chain) bool { return b.Type != ChainNAT })
}

// validateRegularContexts checks a regular chain reached from nat chains:
// from nat chains only (a rewrite means nothing in a filter chain, a drop
// nothing in a nat one), and with their rules' rules.
func validateRegularContexts(c *Chain, contexts []*Chain, ds *Diagnostics) {
	nat := slices.IndexFunc(contexts, func(b *Chain) bool { return b.Type == ChainNAT })
	if nat < 0 {
		return
	}
	if other := slices.IndexFunc(contexts, func(b *Chain) bool { return b.Type != ChainNAT }); other >= 0 {
		ds.Errorf(c.Pos, "chain %s is reached from nat chain %s and from %s chain %s", c.Name, contexts[nat].Name, contexts[other].Type, contexts[other].Name).Hint =
			"give each its own chain: a nat chain's rules rewrite, a filter chain's decide"
		return
	}
	hooks := map[Hook]bool{}
	for _, base := range contexts {
		if !hooks[base.Hook] {
			hooks[base.Hook] = true
			validateNATRules(c, base, ds)
		}
	}
}

// reachedVia says which base chain a regular chain's rule was checked
// for: " (chain c is reached from chain input)".
func reachedVia(c, ctx *Chain) string {
	if c == ctx {
		return ""
	}
	return fmt.Sprintf(" (chain %s is reached from chain %s)", c.Name, ctx.Name)
}

// validateMatch checks one match on its own: its field, values, and
// whether the field can hold at all in the table.
func validateMatch(t *Table, m *Match, ds *Diagnostics) bool {
	if m.Field == 0 || m.Field >= fieldEnd {
		ds.Errorf(m.Pos, "unknown field %d", m.Field)
		return false
	}
	spec := m.Field.Spec()
	if m.Values.IsEmpty() && m.Set == nil { // a declared set may start empty
		ds.Errorf(m.Pos, "%s has no values", spec.Name)
		return false
	}
	if !spec.Kind.Universe().Contains(m.Values) {
		ds.Errorf(m.Pos, "%s has a value that is not one of %s", spec.Name, spec.Kind)
		return false
	}
	if m.Mask != 0 && !spec.Maskable {
		ds.Errorf(m.Pos, "%s takes no mask", spec.Name)
		return false
	}
	if uint64(m.Mask) > spec.Kind.Max() {
		ds.Errorf(m.Pos, "%s has a mask wider than its %d bits", spec.Name, spec.Kind.Spec().Bits)
		return false
	}
	if m.Protocol != AnyTransport && !m.Protocol.HasPorts() {
		ds.Errorf(m.Pos, "%s implies protocol %s, which has no ports", spec.Name, m.Protocol)
		return false
	}
	ok := true
	if spec.Kind.Spec().Shape == ShapePath && !checkCgroups(ds, m) {
		return false
	}
	if spec.Kind.Spec().Shape == ShapeName {
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
	return ok
}

// validateMatchAt checks whether a match of chain c can hold where the
// base chain ctx runs: its hook and priority.
func validateMatchAt(ctx, c *Chain, m *Match, ds *Diagnostics) bool {
	if m.Field == 0 || m.Field >= fieldEnd {
		return false // validateMatch said so
	}
	spec := m.Field.Spec()
	if ctx.Hook != 0 && !spec.Hooks.Has(ctx.Hook) {
		d := ds.Errorf(m.Pos, "%s never holds in chain %s: packets at hook %s have no %s%s", spec.Name, c.Name, ctx.Hook, hookLacks(m.Field), reachedVia(c, ctx))
		if m.Field == FieldFibDaddrOif && ctx.Hook == HookInput {
			d.Message = fmt.Sprintf("%s in chain %s has no one meaning at hook input: the kernel finds no route out for this machine's own addresses, but one for loopback and for a packet early demux gave a socket%s", spec.Name, c.Name, reachedVia(c, ctx))
		}
		d.End = m.End
		d.Hint = hookHint(m.Field)
		return false
	}
	if spec.NeedsConntrack && (ctx.Hook == HookPrerouting || ctx.Hook == HookOutput) && ctx.Priority <= PriorityConntrack {
		d := ds.Errorf(m.Pos, "%s in chain %s never sees a conntrack state: the chain runs at priority %d, before conntrack (%d)%s",
			spec.Name, c.Name, ctx.Priority, PriorityConntrack, reachedVia(c, ctx))
		d.End = m.End
		d.Hint = fmt.Sprintf("give the chain a priority above %d (mangle is -150, filter 0)", PriorityConntrack)
		return false
	}
	return true
}

// validateNotrack refuses a notrack where conntrack has seen the packet
// already, and so does nothing: after prerouting and output, or at their
// conntrack's priority or later (at -200 itself, which runs first is the
// order the hooks were registered in).
func validateNotrack(ds *Diagnostics, c *Chain, contexts []*Chain, n *Notrack) {
	for _, ctx := range contexts {
		if ctx.Hook != HookPrerouting && ctx.Hook != HookOutput || ctx.Priority >= PriorityConntrack {
			why := fmt.Sprintf("at hook %s conntrack has seen the packet already", ctx.Hook)
			if ctx.Hook == HookPrerouting || ctx.Hook == HookOutput {
				why = fmt.Sprintf("the chain runs at priority %d, not before conntrack (%d)", ctx.Priority, PriorityConntrack)
			}
			ds.Errorf(n.Pos, "notrack in chain %s does nothing: %s%s", c.Name, why, reachedVia(c, ctx)).Hint =
				"notrack in a chain of hook prerouting or output at priority raw (-300)"
			return
		}
	}
}

// validateMSSSet refuses an MSS rewrite of packets that are not TCP, and
// the route's MTU where the packet has no route yet.
func validateMSSSet(ds *Diagnostics, c *Chain, contexts []*Chain, r *Rule, m *MSSSet) {
	if proto := r.Match(FieldL4Proto); proto == nil || proto.Op != Eq || !proto.Values.Equal(ProtocolSet(TCP)) {
		ds.Errorf(m.Pos, "%s needs a rule that holds for TCP only", m.Text()).Hint = "add the SYN match it is meant for: tcp flags syn " + m.Text()
		return
	}
	for _, ctx := range contexts {
		if m.Size == 0 && ctx.Hook != HookForward && ctx.Hook != HookOutput && ctx.Hook != HookPostrouting {
			ds.Errorf(m.Pos, "%s in chain %s: at hook %s the packet has no route, and so no MTU%s", m.Text(), c.Name, ctx.Hook, reachedVia(c, ctx)).Hint =
				"clamp in a forward, output or postrouting chain"
			return
		}
	}
}

func hookLacks(f Field) string {
	if f.CgroupLevel() > 0 {
		return "socket this machine sent them from (ksc matches a socket's cgroup at output only, where every target reads the same socket)"
	}
	switch f {
	case FieldIifname, FieldIif:
		return "input interface"
	case FieldSkuid, FieldSkgid:
		return "local socket that sent them"
	case FieldFibRPF:
		return "input interface to look a route back up for (the kernel refuses it there)"
	case FieldFibDaddrOif:
		return "route for nft's fib to look up (the kernel refuses it there)"
	case FieldFibDaddrIifType:
		return "input interface to look the destination up on (the kernel refuses it there)"
	}
	return "output interface"
}

// hookHint says where a field can be matched.
func hookHint(f Field) string {
	if f.CgroupLevel() > 0 {
		return "match the sending program's cgroup in an output chain"
	}
	if f == FieldSkuid || f == FieldSkgid {
		return "match the sending user or group in output and postrouting chains"
	}
	if f == FieldFibRPF {
		return "filter reverse paths in prerouting, input or forward chains"
	}
	if f == FieldFibDaddrIifType {
		return "match fib daddr . iif type in prerouting, input or forward chains, fib daddr type elsewhere"
	}
	if f == FieldFibDaddrOif {
		return "match fib daddr oif in prerouting (before the packet is routed) or forward chains; for what is this machine's, fib daddr type local"
	}
	return "match iifname in prerouting, input, forward and postrouting chains, oifname in forward, output and postrouting chains"
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
			text := m.Text()
			if m.FromNAT {
				text = r.NAT.Text(t.Family) // the match the rewrite implies was never written
			}
			d := ds.Errorf(m.Pos, "%s contradicts %s at %s: no packet is both %s and %s", text, first.Text(), first.Pos, f, first.family())
			d.Hint = "split it into one rule for each family"
			return
		}
		if first == nil {
			first = m
		}
	}
	for _, s := range r.Statements {
		var key *SetKey
		hint := "key it by the family's own address field"
		switch s := s.(type) {
		case *Limit:
			if s.Meter != nil {
				key = &SetKey{s.Pos, s.Text(), s.Meter.Key}
			}
		case *SetWrite:
			key = &SetKey{s.Pos, s.Text(), s.Key}
		case *DSCPSet:
			// A rewrite of one family's header binds the rule as a match.
			if f := s.Field.Spec().Family; !t.Family.Covers(f) {
				ds.Errorf(s.Pos, "%s never acts in table %s %s: it only rewrites %s packets", s.Text(), t.Family, t.Name, f).Hint =
					"an " + t.Family.String() + " table only sees " + t.Family.String() + " packets"
				continue
			}
			key, hint = &SetKey{s.Pos, s.Text(), s.Field}, "split it into one rule for each family"
		}
		if key == nil {
			continue
		}
		if first == nil {
			first = &Match{Pos: key.Pos, Field: key.Field}
			continue
		}
		if f := key.Field.Spec().Family; f != first.family() {
			ds.Errorf(key.Pos, "%s contradicts %s at %s: no packet is both %s and %s", key.Text, first.Text(), first.Pos, f, first.family()).Hint = hint
		}
	}
}

// carriesPorts reports whether the rule holds only for TCP and UDP, whose
// ports a rewrite can change.
func carriesPorts(r *Rule) bool {
	proto := r.Match(FieldL4Proto)
	if proto == nil {
		return false
	}
	for _, p := range Protocols(proto.Effective()) {
		if p != TCP && p != UDP {
			return false
		}
	}
	return true
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
			ds.Errorf(r.Pos, "reject with icmp answers IPv4 packets only, and this rule holds for IPv6 packets only").Hint =
				"use reject with icmpv6, or icmpx for either family"
		}
	case RejectICMPv6:
		if family != IPv6 {
			ds.Errorf(r.Pos, "reject with icmpv6 answers IPv6 packets only, and this rule holds for IPv4 packets only").Hint =
				"use reject with icmp, or icmpx for either family"
		}
	}
	if codes := with.Kind.Codes(); codes != nil && with.Kind.CodeName(with.Code) == itoa(int(with.Code)) {
		ds.Errorf(r.Pos, "unknown %s code %d", map[RejectKind]string{RejectICMP: "icmp", RejectICMPv6: "icmpv6", RejectICMPX: "icmpx"}[with.Kind], with.Code)
	}
}

// Unwritable reports every rule of p that ksc could not read (Unread): a
// backend refuses them, since what it would write is not the rule.
func (p *Policy) Unwritable() Diagnostics {
	var ds Diagnostics
	for _, t := range p.Tables {
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				if r.Unread != nil {
					ds.Errorf(r.Pos, "a rule ksc could not read cannot be written: %s", r.Unread)
				}
			}
		}
	}
	return ds
}
