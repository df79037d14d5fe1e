// Package sim decides what a policy does with one packet from the IR
// alone, as the kernel would: the chains of each hook the packet crosses
// in priority order, the first rule that holds in each, base-chain
// policies. It answers "would this packet leak?" without root, and the
// differential kernel tests hold its answer against the kernel's.
package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// Direction is which way a packet goes through the machine.
type Direction uint8

const (
	In      Direction = iota + 1 // to a local socket: prerouting, input
	Out                          // from a local socket: output, postrouting
	Forward                      // routed through: prerouting, forward, postrouting
)

func (d Direction) String() string {
	return map[Direction]string{In: "in", Out: "out", Forward: "forward"}[d]
}

// Hooks are the hooks a packet of direction d crosses, in order.
func (d Direction) Hooks() []ir.Hook {
	switch d {
	case In:
		return []ir.Hook{ir.HookPrerouting, ir.HookInput}
	case Out:
		return []ir.Hook{ir.HookOutput, ir.HookPostrouting}
	default:
		return []ir.Hook{ir.HookPrerouting, ir.HookForward, ir.HookPostrouting}
	}
}

// Packet is a packet and its way through the machine.
type Packet struct {
	ir.Packet
	Dir Direction
}

// atHook is the packet as a chain at hook h sees it: no output interface
// before routing, no input interface for a locally sent packet.
func (p Packet) atHook(h ir.Hook) ir.Packet {
	q := p.Packet
	if h == ir.HookPrerouting || h == ir.HookInput {
		q.Oif = ""
	}
	if p.Dir != Out {
		q.UID, q.GID = 0, 0
	}
	if p.Dir == Forward && (h == ir.HookForward || h == ir.HookPostrouting) {
		// Routing a packet on takes one hop off it, before the forward hook.
		q.HopLimit, q.HopLimitSet = p.Hops()-1, true
	}
	return q
}

// Miss is a rule that did not hold, and the first of its matches that
// failed.
type Miss struct {
	Rule  *ir.Rule
	Match *ir.Match
}

// Step is one base chain the packet crossed, and what decided there: a
// rule, or the chain's policy when Rule is nil.
type Step struct {
	Table   *ir.Table
	Chain   *ir.Chain
	Rule    *ir.Rule
	Verdict ir.Verdict
	// Missed lists the rules before the deciding one that did not hold.
	Missed []Miss
	// Passed lists rules that held but decided nothing (counter, log).
	Passed []*ir.Rule
	// Limited lists the rules that held whose effect depends on a rate
	// (a limit statement): the simulator takes the packet to be among
	// the first, under every rate, and says so.
	Limited []*ir.Rule
	// Jumped lists the jump and goto rules that held, in order, and
	// Returned the return rules: the packet's way through regular chains.
	Jumped, Returned []*ir.Rule
	// Looked lists the lookups of dynamic sets the packet met: the
	// simulator takes each set to hold only what this packet's way put
	// into it, as when the policy is loaded, and says so.
	Looked []*ir.Match
}

// Result is a packet's fate: the chains it crossed and the verdict.
type Result struct {
	Steps   []Step
	Verdict ir.Verdict // Accept, Drop or Reject
	// Unknown says what a rewrite made of the packet that the simulator
	// cannot know (the address of an interface), and what it assumed.
	Unknown []string
	// Final is the packet as the last chain saw it: its addresses and
	// ports after nat rules, its marks after those the rules set.
	Final Packet
	// Unread are the rules the packet met that ksc could not read (a
	// machine's ruleset, lang.LoadMachine). Verdict is what the packet
	// gets whichever way they go; NoVerdict when that is not one verdict,
	// or one of them may do anything (ir.Unread.Acts): not known.
	Unread []*ir.Rule
}

// maxBranches bounds the ways Evaluate tries through rules whose matches
// it cannot read: past it, the verdict is not known.
const maxBranches = 64

// translate rewrites the packet as a nat rule does, for the chains after
// it, and says what it could not know. The kernel rewrites a connection's
// first packet, and the rest of the connection alike.
func translate(pkt *Packet, h ir.Hook, n *ir.NAT) string {
	if n.Kind == ir.SNAT || n.Kind == ir.Masquerade {
		pkt.CtStatus |= 0x10 // snat
	} else {
		pkt.CtStatus |= 0x20 // dnat
	}
	var notes []string
	if n.AddrLast.IsValid() || n.PortLast != 0 {
		notes = append(notes, fmt.Sprintf("%s: the kernel picks the new address or port from %s, taken to be the first", n.Kind, n.Target()))
	}
	switch n.Kind {
	case ir.SNAT:
		pkt.Src = n.Addr
		if n.Port != 0 {
			pkt.Sport = n.Port
		}
	case ir.DNAT:
		pkt.Dst = n.Addr
		if n.Port != 0 {
			pkt.Dport = n.Port
		}
	case ir.Redirect:
		if n.Port != 0 {
			pkt.Dport = n.Port
		}
		if h != ir.HookOutput {
			notes = append(notes, fmt.Sprintf("redirect: the destination becomes this machine's first address on %s, taken to be %s", pkt.Iif, pkt.Dst))
		} else if pkt.Family() == ir.IPv4 {
			pkt.Dst = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		} else {
			pkt.Dst = netip.IPv6Loopback()
		}
	case ir.Masquerade:
		if n.Port != 0 {
			pkt.Sport = n.Port
		}
		notes = append(notes, fmt.Sprintf("masquerade: the source becomes this machine's address on %s, taken to be %s", pkt.Oif, pkt.Src))
	default:
		panic("sim: a nat rule of a kind it does not know, " + n.Kind.String())
	}
	return strings.Join(notes, "; ")
}

// natDone is the status bit the kernel sets once a new connection has
// been through the nat chains of hook h: the destination's at
// prerouting and output, the source's at postrouting and input.
func natDone(h ir.Hook) uint32 {
	if h == ir.HookPrerouting || h == ir.HookOutput {
		return ir.CtStatusDstNATDone
	}
	return ir.CtStatusSrcNATDone
}

// Conditions says, for each rule whose effect on the packet depends on a
// rate or on earlier packets, on what: "p.ks:5:3 while under 5/minute".
func (r Result) Conditions() []string {
	var out []string
	for _, st := range r.Steps {
		for _, rule := range st.Limited {
			out = append(out, rule.Pos.String()+" "+rule.Limit().Condition())
		}
		for _, m := range st.Looked {
			out = append(out, fmt.Sprintf("%s while @%s holds no key from earlier packets", m.Pos, m.Set.Name))
		}
	}
	return out
}

// Decided is the step that decided a drop or reject, or for an accepted
// packet the last filter chain's step (nil when no chain saw it): a nat
// chain rewrites, it does not let a packet through.
func (r Result) Decided() *Step {
	for i := len(r.Steps) - 1; i >= 0; i-- {
		if r.Steps[i].Chain.Type != ir.ChainNAT || i == 0 {
			return &r.Steps[i]
		}
	}
	return nil
}

// Evaluate sends the packet through the policy's chains. An accept ends
// only the chain it is in: the packet goes on to the next chain of the
// hook and to the next hook; a drop or reject ends its way.
//
// At a rule whose matches it cannot read (ir.Unread), it tries the packet
// both with the rule holding and not, every way through all such rules,
// and answers a verdict only if all ways give it (see Result.Unread); the
// steps shown are of the way where none holds.
func Evaluate(p *ir.Policy, pkt Packet) Result { return EvaluateRouted(p, pkt, nil) }

// A Router says where a machine's routing sends a packet: whether an
// address is one of the machine's own, and the interface a packet that
// came in by iif leaves by when forwarded ("" when there is no route).
// flows.KernelRoutes asks the kernel.
type Router interface {
	Local(a netip.Addr) bool
	Forward(iif string, src, dst netip.Addr) string
}

// EvaluateRouted is Evaluate on a machine whose routing router answers:
// a packet whose destination a prerouting dnat changed is delivered or
// forwarded as it says (Docker's published port, forwarded to a
// container), where Evaluate takes it to stay as its line says, and says
// so.
func EvaluateRouted(p *ir.Policy, pkt Packet, router Router) Result {
	var choices []bool // how each unread rule went, in the order met
	var out Result
	for way := 0; ; way++ {
		asked := 0
		res := evaluate(p, pkt, router, func(r *ir.Rule) bool {
			if asked == len(choices) {
				choices = append(choices, false)
			}
			if !slices.Contains(out.Unread, r) {
				out.Unread = append(out.Unread, r)
			}
			asked++
			return choices[asked-1]
		})
		// A rule that may do anything ends the way where it is (a nat
		// chain's too, which Decided passes over).
		if n := len(res.Steps); n > 0 {
			if r := res.Steps[n-1].Rule; r != nil && r.Unread != nil && !slices.Contains(out.Unread, r) {
				out.Unread = append(out.Unread, r)
			}
		}
		if way == 0 {
			unread := out.Unread
			out = res
			out.Unread = unread
		} else if res.Verdict != out.Verdict {
			out.Verdict = ir.NoVerdict
		}
		// The next way: the last rule that did not hold, holding.
		choices = choices[:asked]
		for len(choices) > 0 && choices[len(choices)-1] {
			choices = choices[:len(choices)-1]
		}
		if len(choices) == 0 {
			return out
		}
		if way == maxBranches {
			out.Verdict = ir.NoVerdict
			return out
		}
		choices[len(choices)-1] = true
	}
}

// evaluate is Evaluate one way: holds says whether each unread rule the
// packet meets holds.
func evaluate(p *ir.Policy, pkt Packet, router Router, holds func(*ir.Rule) bool) Result {
	var res Result
	pkt.Added = nil // every dynamic set starts empty, as when loaded
	arrived := pkt.Dst
	hooks := pkt.Dir.Hooks()
	for i := 0; i < len(hooks); i++ {
		h := hooks[i]
		for _, tc := range chainsAt(p, h, pkt.Family()) {
			if tc.chain.Type == ir.ChainNAT && pkt.CtState != ir.CtNew {
				// Conntrack asks nat chains about a connection's first
				// packet only; the rest follow its answer.
				continue
			}
			// Marks and a code point a chain sets, and a notrack, go with
			// the packet to the next.
			at := pkt.atHook(h)
			step := evalChain(tc.table, tc.chain, &at, holds)
			pkt.Mark, pkt.CtMark, pkt.Added = at.Mark, at.CtMark, at.Added
			pkt.CtState, pkt.Reply, pkt.CtStatus, pkt.DSCP = at.CtState, at.Reply, at.CtStatus, at.DSCP
			if step.Rule != nil && step.Rule.Verdict == ir.Translate {
				if note := translate(&pkt, h, step.Rule.NAT); note != "" {
					res.Unknown = append(res.Unknown, step.Rule.Pos.String()+" "+note)
				}
			}
			if tc.chain.Type == ir.ChainNAT {
				pkt.CtStatus |= natDone(h)
			}
			res.Steps = append(res.Steps, step)
			if step.Verdict != ir.Accept {
				res.Verdict, res.Final = step.Verdict, pkt
				return res
			}
		}
		if h == ir.HookPrerouting && pkt.Dst != arrived && pkt.Dir != Out {
			dir := pkt.Dir
			if note, routed := reroute(&pkt, router); !routed {
				res.Unknown = append(res.Unknown, note)
			} else if pkt.Dir == 0 {
				pkt.Dir = dir
				res.Verdict, res.Final = ir.Drop, pkt
				res.Unknown = append(res.Unknown, note)
				return res
			}
			hooks = pkt.Dir.Hooks()
		}
	}
	res.Verdict, res.Final = ir.Accept, pkt
	return res
}

// reroute routes a packet whose destination prerouting's nat changed, as
// the kernel does after prerouting: delivered when the new destination
// is the machine's, forwarded otherwise (Dir 0 when there is no route:
// the kernel drops it). Without a router it stays as its line says, and
// routed is false.
func reroute(pkt *Packet, router Router) (note string, routed bool) {
	if router == nil {
		if pkt.Dir == In {
			return fmt.Sprintf("dnat: the packet is taken to stay this machine's at %s; if that is another host's address, the kernel forwards it instead (ask about it as a forward packet)", pkt.Dst), false
		}
		return "", true // forwarded as its line says
	}
	switch {
	case router.Local(pkt.Dst):
		pkt.Dir, pkt.Oif, pkt.DaddrType = In, "", ir.AddrLocal
		return "", true
	default:
		oif := router.Forward(pkt.Iif, pkt.Src, pkt.Dst)
		if oif == "" {
			pkt.Dir = 0
			return fmt.Sprintf("the machine has no route to %s, where a dnat sent it: the kernel drops it", pkt.Dst), true
		}
		pkt.Dir, pkt.Oif, pkt.DaddrType = Forward, oif, ir.AddrUnicast
		return "", true
	}
}

// Sent is the rule that sent an arriving packet to another destination
// (a dnat at prerouting) and left it arriving, or nil: delivered here as
// a Router said, dropped for want of a route, or, with no Router to ask,
// taken to stay this machine's (Evaluate says so).
func (r Result) Sent() *ir.Rule {
	if r.Final.Dir != In {
		return nil
	}
	for _, st := range r.Steps {
		if st.Rule != nil && st.Rule.Verdict == ir.Translate && st.Rule.NAT.Kind == ir.DNAT && st.Chain.Hook == ir.HookPrerouting {
			return st.Rule
		}
	}
	return nil
}

// Unsure says why the verdict is not known ("ksc cannot read rule ..."),
// naming the rules the packet met and their tables; "" when it is known.
func (r Result) Unsure() string {
	if r.Verdict != ir.NoVerdict {
		return ""
	}
	var rules []string
	for _, u := range r.Unread {
		where := ""
		for _, st := range r.Steps {
			if st.Table.Has(u) {
				where = " in table " + st.Table.Family.String() + " " + st.Table.Name
				break
			}
		}
		rules = append(rules, u.Pos.String()+where+": "+u.Unread.String())
	}
	return "ksc cannot read rule " + strings.Join(rules, ", nor rule ")
}

// Answer is what the rule that rejected the packet answers it with, as
// the kernel sends it (ir.RejectWith.InFamily); false when no rule
// rejected it.
func (r Result) Answer() (ir.RejectWith, bool) {
	if r.Verdict != ir.Reject {
		return ir.RejectWith{}, false
	}
	d := r.Decided()
	if d == nil || d.Rule == nil {
		return ir.RejectWith{}, false
	}
	return d.Rule.RejectWith.InFamily(r.Final.Family())
}

type tableChain struct {
	table *ir.Table
	chain *ir.Chain
}

// chainsAt lists the base chains at hook h that see packets of family f,
// in the order the kernel runs them: by priority, then as declared.
func chainsAt(p *ir.Policy, h ir.Hook, f ir.Family) []tableChain {
	var out []tableChain
	for _, t := range p.Tables {
		if !t.Family.Covers(f) {
			continue
		}
		for _, c := range t.Chains {
			if c.Hook == h {
				out = append(out, tableChain{t, c})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b tableChain) int { return a.chain.Priority - b.chain.Priority })
	return out
}

func evalChain(t *ir.Table, c *ir.Chain, pkt *ir.Packet, holds func(*ir.Rule) bool) Step {
	step := Step{Table: t, Chain: c}
	if r := walk(c, pkt, &step, holds); r != nil {
		step.Rule, step.Verdict = r, r.Verdict
		if r.Unread != nil && r.Unread.Acts {
			step.Verdict = ir.NoVerdict // not known
			return step
		}
		if r.Verdict == ir.Translate {
			// The rewrite is the nat chain's accept; the filter verdicts
			// are the other chains'.
			step.Verdict = ir.Accept
		}
		return step
	}
	step.Verdict = c.Policy
	return step
}

// walk runs the packet through chain c and the regular chains it jumps
// to, and returns the rule that decided, or nil when the packet leaves c
// undecided (its end, a return, or the end of a chain it went to).
func walk(c *ir.Chain, pkt *ir.Packet, step *Step, holds func(*ir.Rule) bool) *ir.Rule {
	for _, r := range c.Rules {
		m := firstMiss(r, *pkt)
		for _, looked := range r.Matches {
			if looked.Set != nil && looked.Set.Dynamic {
				step.Looked = append(step.Looked, looked)
			}
			if looked == m {
				break
			}
		}
		if m != nil {
			step.Missed = append(step.Missed, Miss{r, m})
			continue
		}
		if r.Unread != nil {
			if r.Unread.Acts {
				return r // what it does is not known
			}
			if !holds(r) {
				step.Missed = append(step.Missed, Miss{Rule: r})
				continue
			}
		}
		act(r, pkt)
		l := r.Limit()
		if l != nil {
			step.Limited = append(step.Limited, r)
		}
		// Under the rate, "limit rate over" stops the rule before its
		// verdict; above it (a packet more than a byte limit's bucket
		// holds), a plain limit does.
		if r.Verdict == ir.NoVerdict || l != nil && stops(l, pkt) {
			step.Passed = append(step.Passed, r)
			continue
		}
		switch r.Verdict {
		case ir.Jump:
			step.Jumped = append(step.Jumped, r)
			if decided := walk(r.Target, pkt, step, holds); decided != nil {
				return decided
			}
		case ir.Goto:
			// The end of the chain gone to is the end of this one.
			step.Jumped = append(step.Jumped, r)
			return walk(r.Target, pkt, step, holds)
		case ir.Return:
			step.Returned = append(step.Returned, r)
			return nil
		case ir.Accept, ir.Drop, ir.Reject, ir.Translate:
			return r
		default:
			panic("sim: rule with verdict " + r.Verdict.String())
		}
	}
	return nil
}

// stops reports a limit that stops its rule for the packet: "limit rate
// over" under the rate, a plain limit above it.
func stops(l *ir.Limit, pkt *ir.Packet) bool {
	return l.Over != l.Exceeds(len(pkt.Wire()))
}

// act carries out a matching rule's statements that change the packet
// (marks), in order, up to a limit that stops it (see stops).
func act(r *ir.Rule, pkt *ir.Packet) {
	for _, s := range r.Statements {
		switch s := s.(type) {
		case *ir.Limit:
			if stops(s, pkt) {
				return
			}
		case *ir.Counter, *ir.Log, *ir.MSSSet, *ir.Trace:
			// They change nothing of the packet that a rule reads.
		case *ir.SetWrite:
			pkt.Add(s)
		case *ir.DSCPSet:
			pkt.DSCP = s.Value
		case *ir.Notrack:
			// Conntrack leaves it alone: no state but untracked, no
			// connection to mark, no way of one to go.
			pkt.CtState, pkt.Reply, pkt.CtStatus, pkt.CtMark = ir.CtUntracked, false, 0, 0
		case *ir.MarkSet:
			var from uint32
			switch s.From {
			case ir.FieldMark:
				from = pkt.Mark
			case ir.FieldCtMark:
				from = pkt.CtMark
			}
			value := s.Of(from)
			if s.Target == ir.FieldCtMark {
				// Only a tracked packet has a connection to mark.
				if pkt.Tracked() {
					pkt.CtMark = value
				}
			} else {
				pkt.Mark = value
			}
		default:
			// A statement the simulator does not know would be taken to
			// change nothing: explain and test would answer for another
			// policy. TestEveryStatementIsSimulated finds the new one.
			panic(fmt.Sprintf("sim: a rule with a statement it does not know, %T", s))
		}
	}
}

// firstMiss is the first match of r that does not hold for pkt, or nil;
// a rule of the other family misses at the match that binds its family.
func firstMiss(r *ir.Rule, pkt ir.Packet) *ir.Match {
	for _, m := range r.Matches {
		if !m.Holds(pkt) {
			return m
		}
	}
	if f := r.Family(); f != ir.Inet && f != pkt.Family() {
		for _, m := range r.Matches {
			if (&ir.Rule{Matches: []*ir.Match{m}}).Family() == f {
				return m
			}
		}
		// Only a set's key or the reject's answer binds the family
		// ("update @s { ip saddr ... }", "reject with icmp ..."): the
		// rule checks the family as nft writes it.
		nfproto := map[ir.Family]uint32{ir.IPv4: 2, ir.IPv6: 10}[f]
		pos := r.Pos // the reject's answer binds it ("reject with icmp")
		if key := r.KeyedBy(); key != nil {
			pos = key.Pos
		}
		return &ir.Match{Pos: pos, Field: ir.FieldNfproto, Op: ir.Eq, Values: ir.NumberSet(nfproto)}
	}
	return nil
}
