// Package difftest proves that a policy means one thing on every target.
// It generates seeded random rules over every field the language has (with
// negation, sets, ranges, prefixes and repeated fields, in both families)
// and packets at the edges of their values, and says what the IR itself
// decides for each packet (ir.Rule.Holds on the rules as written). Tests
// compare that with normalization (no root needed) and with the kernel's
// verdict through every loader (see Lab).
package difftest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/sim"
)

// The lab's addresses, all documentation ranges. The firewall owns FW4 and
// FW6; its peer owns Peer4 and Peer6, whose lower half sits behind the
// firewall's first interface and upper half behind its second.
var (
	FW4   = netip.MustParsePrefix("192.0.2.0/26")
	FW6   = netip.MustParsePrefix("2001:db8:a::/120")
	Peer4 = netip.MustParsePrefix("198.51.100.0/26")
	Peer6 = netip.MustParsePrefix("2001:db8:b::/120")
	// Interfaces are the firewall's two interfaces, by peer half.
	Interfaces = [2]string{"eth0", "wg0"}
)

// Ports: the firewall and the peer listen on ListenPorts and send from
// SourcePorts.
const (
	ListenFirst, ListenLast = 1000, 1015
	SourceFirst, SourceLast = 2000, 2015
)

// interfacePatterns are the names rules use: the lab's, wildcards over
// them, and one the lab lacks.
var interfacePatterns = []string{"eth0", "wg0", "eth*", "wg*", "e*", "tun0"}

// Case is one generated ruleset: one base chain (input or output, policy
// accept) whose rules all block (drop in output, where the sender sees
// EPERM at once; reject in input, where it sees ECONNREFUSED), some of
// them perhaps in a regular chain it jumps or goes to, and the probes to
// send through it.
type Case struct {
	Seed   uint64
	Hook   ir.Hook
	Source string
	Policy *ir.Policy
	Layout Layout
	// Written holds each blocking rule's matches as written, before
	// Validate normalized them: what the expectation is computed from.
	// Rules are the same rules normalized, as the backends lower them.
	Written [][]*ir.Match
	Rules   []*ir.Rule
	Probes  []Probe
}

// Layout is where a case's blocking rules sit. Without Via, all are in
// the base chain. With it, the base chain holds rules [0, Split), then a
// jump or goto (Via) to a regular chain "sub" holding rules [Split,
// Tail), then rules [Tail, n): a goto never comes back to them. Sub may
// start with a return (Return, its matches as written), which sends the
// packets it holds for back before sub's rules see them.
type Layout struct {
	Via         ir.Verdict // NoVerdict, ir.Jump or ir.Goto
	Split, Tail int
	Return      []*ir.Match
}

// blocks reports whether a blocking rule holds for p on its way through
// the layout, given whether each rule (by index) and the return hold.
func (l Layout) blocks(n int, holds func(i int) bool, returns bool) bool {
	if l.Via == ir.NoVerdict {
		l.Split, l.Tail = n, n
	}
	for i := range l.Split {
		if holds(i) {
			return true
		}
	}
	if l.Via != ir.NoVerdict && !returns {
		for i := l.Split; i < l.Tail; i++ {
			if holds(i) {
				return true
			}
		}
	}
	if l.Via == ir.Goto {
		return false // the end of sub is the end of the base chain
	}
	for i := l.Tail; i < n; i++ {
		if holds(i) {
			return true
		}
	}
	return false
}

// Probe is one packet sent through the chain. When Established, a second
// packet of the same flow follows the reply (UDP only): its conntrack
// state is established.
type Probe struct {
	Packet      ir.Packet
	Established bool
}

// Outcome is what happened to a probe.
type Outcome string

const (
	Passed             Outcome = "passed"
	BlockedNew         Outcome = "blocked"
	BlockedEstablished Outcome = "passed, then blocked when established"
)

// Expect is the IR's verdict for a probe: the rules as written, each the
// AND of its matches, the first that holds blocking. It lists every
// outcome the sender may see: one, except for a TCP probe in input whose
// SYN passes and whose handshake ACK (an established packet) is
// rejected, where the connection either completes or reports the
// rejection, depending on whether the ICMP error beats the connect's
// return (Linux reports it through SO_ERROR as a soft error).
func (c *Case) Expect(pr Probe) []Outcome {
	p := withTCPFlags(pr.Packet, InitialState(pr.Packet))
	if c.blocks(p) {
		return []Outcome{BlockedNew}
	}
	p = withTCPFlags(p, ir.CtEstablished)
	switch {
	case pr.Established && c.blocks(p):
		return []Outcome{BlockedEstablished}
	case p.Protocol == ir.TCP && c.Hook == ir.HookInput && c.blocks(p):
		return []Outcome{Passed, BlockedNew}
	}
	return []Outcome{Passed}
}

// withTCPFlags sets a packet's conntrack state, and for TCP the flags of
// the packet in that state: SYN first, then the handshake's ACK.
func withTCPFlags(p ir.Packet, st ir.CtState) ir.Packet {
	p.CtState = st
	if p.Protocol == ir.TCP {
		p.TCPFlags = 0x02
		if st != ir.CtNew {
			p.TCPFlags = 0x10
		}
	}
	return p
}

// InitialState is the conntrack state of a flow's first packet, as the
// simulator knows it.
func InitialState(p ir.Packet) ir.CtState { return sim.InitialState(p) }

// Simulated is the simulator's verdict for a probe (package sim, on the
// normalized policy), in the shape of Expect's first outcome.
func (c *Case) Simulated(pr Probe) Outcome {
	dir := sim.In
	if c.Hook == ir.HookOutput {
		dir = sim.Out
	}
	p := withTCPFlags(pr.Packet, InitialState(pr.Packet))
	if sim.Evaluate(c.Policy, sim.Packet{Packet: p, Dir: dir}).Verdict != ir.Accept {
		return BlockedNew
	}
	p = withTCPFlags(p, ir.CtEstablished)
	if pr.Established && sim.Evaluate(c.Policy, sim.Packet{Packet: p, Dir: dir}).Verdict != ir.Accept {
		return BlockedEstablished
	}
	return Passed
}

func (c *Case) blocks(p ir.Packet) bool {
	returns := c.Layout.Return != nil && (&ir.Rule{Matches: c.Layout.Return}).Holds(p)
	return c.Layout.blocks(len(c.Written), func(i int) bool { return (&ir.Rule{Matches: c.Written[i]}).Holds(p) }, returns)
}

// Pairs counts the packet×rule evaluations the probes make: each packet
// meets every rule up to the one that decides it.
func (c *Case) Pairs() int {
	n := 0
	for _, pr := range c.Probes {
		p := withTCPFlags(pr.Packet, InitialState(pr.Packet))
		c.Layout.blocks(len(c.Written), func(i int) bool {
			n++
			return (&ir.Rule{Matches: c.Written[i]}).Holds(p)
		}, c.Layout.Return != nil && (&ir.Rule{Matches: c.Layout.Return}).Holds(p))
	}
	return n
}

// Generator makes cases from one seed.
type Generator struct {
	r    *rand.Rand
	seed uint64
	// Refused counts generated rulesets the front end refused
	// (contradictions and the like, which are correct refusals), and
	// Unexpressible those a target refused as beyond it ("the iptables
	// target cannot express ..."), for the test's report.
	Refused, Unexpressible int
}

// NewGenerator returns a generator whose cases depend only on seed.
func NewGenerator(seed uint64) *Generator {
	return &Generator{r: rand.New(rand.NewPCG(seed, seed^0x6b7363)), seed: seed}
}

// Case generates a ruleset of n rules at hook (ir.HookInput or
// ir.HookOutput) and probes for it. accept decides whether a generated
// policy is usable (every target must compile it); refused rules are
// generated anew.
func (g *Generator) Case(hook ir.Hook, n, probes int, accept func(*ir.Policy) error) (*Case, error) {
	for tries := 0; tries < 1000; tries++ {
		var rules []string
		for range n {
			rules = append(rules, g.rule(hook)+" "+g.verdict(hook))
		}
		layout, returnRule := g.layout(hook, n)
		c, err := build(hook, rules, layout, returnRule)
		if err != nil {
			g.Refused++
			continue
		}
		if err := accept(c.Policy); err != nil {
			if strings.Contains(err.Error(), "cannot express") {
				g.Unexpressible++
				continue
			}
			return nil, fmt.Errorf("a target refused a rule the front end accepted:\n%s\n%w", c.Source, err)
		}
		c.Seed = g.seed
		c.Probes = g.probes(c, probes)
		return c, nil
	}
	return nil, fmt.Errorf("no usable ruleset in 1000 tries")
}

// layout places half the cases' rules partly in a regular chain, and
// returns the matches of sub's return rule, if any, as source. At least
// one rule follows the jump or goto in the base chain: it is what tells a
// jump, which comes back to it, from a goto, which does not.
func (g *Generator) layout(hook ir.Hook, n int) (Layout, string) {
	if g.r.IntN(2) != 0 {
		return Layout{}, ""
	}
	l := Layout{Via: []ir.Verdict{ir.Jump, ir.Goto}[g.r.IntN(2)], Split: g.r.IntN(n)}
	l.Tail = l.Split + g.r.IntN(n-l.Split)
	if g.r.IntN(2) == 0 {
		return l, g.rule(hook)
	}
	return l, ""
}

// build loads the rules as a policy, keeping the matches as written.
func build(hook ir.Hook, rules []string, layout Layout, returnRule string) (*Case, error) {
	var src strings.Builder
	fmt.Fprintf(&src, "flush ruleset\ntable inet t {\n\tchain c hook %s policy accept {\n", hook)
	write := func(rules []string) {
		for _, r := range rules {
			fmt.Fprintf(&src, "\t\t%s\n", r)
		}
	}
	if layout.Via == ir.NoVerdict {
		write(rules)
		src.WriteString("\t}\n}\n")
	} else {
		write(rules[:layout.Split])
		fmt.Fprintf(&src, "\t\t%s sub\n", layout.Via)
		write(rules[layout.Tail:])
		src.WriteString("\t}\n\n\tchain sub {\n")
		if returnRule != "" {
			fmt.Fprintf(&src, "\t\t%s return\n", returnRule)
		}
		write(rules[layout.Split:layout.Tail])
		src.WriteString("\t}\n}\n")
	}
	f, ds := lang.Parse("generated.ks", []byte(src.String()))
	if ds.HasErrors() {
		return nil, ds
	}
	p, ds := lang.Build(f, "generated.ks", lang.Config{})
	if ds.HasErrors() {
		return nil, ds
	}
	c := &Case{Hook: hook, Source: src.String(), Policy: p, Layout: layout}
	base := p.Tables[0].Chains[0].Rules
	ordered := base
	if layout.Via != ir.NoVerdict {
		sub := p.Tables[0].Chains[1].Rules
		if returnRule != "" {
			c.Layout.Return = slices.Clone(sub[0].Matches)
			sub = sub[1:]
		}
		ordered = slices.Concat(base[:layout.Split], sub, base[layout.Split+1:])
	}
	for _, r := range ordered {
		c.Written = append(c.Written, slices.Clone(r.Matches))
	}
	c.Rules = ordered
	if ds := p.Validate(); ds.HasErrors() {
		return nil, ds
	}
	return c, nil
}

type fieldKind int

const (
	kindIface fieldKind = iota
	kindPeerAddr
	kindFWAddr
	kindProto
	kindSport
	kindDport
	kindCt
	kindICMP
	kindMark
	kindCtMark
	kindOwner
	kindNfproto
	kindPkttype
	kindTCPFlags
	kindFib
	kindHops
	kindDSCP
	kinds
)

// Values the new fields' rules and probes draw from: ICMP types the
// kernel tracks in each way (echo-request new, neighbour discovery
// untracked, errors invalid), marks around a mask's edges.
var (
	icmpTypes   = []uint32{0, 3, 8, 11, 13}
	icmpv6Types = []uint32{1, 128, 129, 133, 135, 136}
	icmpCodes   = []uint32{0, 1, 3, 4}
	marks       = []uint32{0, 1, 2, 3, 0x10, 0xff, 0x100}
	markMasks   = []uint32{0x3, 0xf, 0xff}
	// hopLimits are TTLs and hop limits around the kernel's default and
	// the ends of the range (a socket cannot send 0).
	hopLimits = []uint32{1, 2, 63, 64, 65, 254, 255}
	// codePoints are DSCP values at both ends, around the two bits of
	// the traffic class's first byte, and common names.
	codePoints = []uint32{0, 1, 3, 4, 8, 0x2e, 0x3f}
)

// verdict is how a generated rule blocks: in output a drop (EPERM at
// once), in input a reject whose answer the sender sees at once (the
// default, an ICMP error every family and transport reports, or for TCP a
// reset; refused rulesets are generated anew).
func (g *Generator) verdict(hook ir.Hook) string {
	if hook == ir.HookOutput {
		return "drop"
	}
	return []string{"reject", "reject", "reject with icmpx admin-prohibited", "reject with icmpx port-unreachable", "reject with tcp reset"}[g.r.IntN(5)]
}

// rule writes one rule's matches in the policy language, in random order,
// sometimes matching a field twice.
func (g *Generator) rule(hook ir.Hook) string {
	family := ir.IPv4
	if g.r.IntN(2) == 0 {
		family = ir.IPv6
	}
	n := 1 + g.r.IntN(4)
	var chosen []fieldKind
	for range n {
		if len(chosen) > 0 && g.r.IntN(5) == 0 {
			chosen = append(chosen, chosen[g.r.IntN(len(chosen))]) // a repeat
			continue
		}
		chosen = append(chosen, fieldKind(g.r.IntN(int(kinds))))
	}
	protoWord := []string{"th", "tcp", "udp"}[g.r.IntN(3)]
	var parts []string
	for _, k := range chosen {
		parts = append(parts, g.match(hook, k, family, protoWord))
	}
	return strings.Join(parts, " ")
}

func (g *Generator) op(maxNegated int, values []string) (string, []string) {
	if g.r.IntN(3) == 0 {
		if len(values) > maxNegated {
			values = values[:maxNegated]
		}
		return "!= ", values
	}
	return "", values
}

func set(values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	return "{ " + strings.Join(values, ", ") + " }"
}

func (g *Generator) match(hook ir.Hook, k fieldKind, family ir.Family, protoWord string) string {
	switch k {
	case kindIface:
		sel := "iifname"
		if hook == ir.HookOutput {
			sel = "oifname"
		}
		var names []string
		for range 1 + g.r.IntN(2) {
			names = append(names, fmt.Sprintf("%q", interfacePatterns[g.r.IntN(len(interfacePatterns))]))
		}
		op, names := g.op(1, dedupe(names))
		return sel + " " + op + set(names)
	case kindPeerAddr, kindFWAddr:
		peerSide := k == kindPeerAddr
		dir := "saddr"
		if peerSide == (hook == ir.HookOutput) {
			dir = "daddr"
		}
		sel, pool := "ip", FW4
		if family == ir.IPv6 {
			sel, pool = "ip6", FW6
		}
		if peerSide {
			pool = map[ir.Family]netip.Prefix{ir.IPv4: Peer4, ir.IPv6: Peer6}[family]
		}
		var elems []string
		for range 1 + g.r.IntN(3) {
			elems = append(elems, g.addrElem(pool))
		}
		op, elems := g.op(1, dedupe(elems))
		return sel + " " + dir + " " + op + set(elems)
	case kindProto:
		all := []string{"tcp", "udp", "icmp"}
		g.r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		op, protos := g.op(1, all[:1+g.r.IntN(3)])
		sel := "meta l4proto "
		if family != ir.IPv6 && g.r.IntN(3) == 0 {
			sel = "ip protocol " // the same for IPv4, which has no extension headers
		}
		return sel + op + set(protos)
	case kindSport, kindDport:
		// Whoever receives listens on ListenPorts, and senders send
		// from SourcePorts, in both directions.
		first, last, dir := SourceFirst, SourceLast, "sport"
		if k == kindDport {
			first, last, dir = ListenFirst, ListenLast, "dport"
		}
		var elems []string
		for range 1 + g.r.IntN(3) {
			a := first + g.r.IntN(last-first+1)
			if g.r.IntN(2) == 0 {
				elems = append(elems, fmt.Sprint(a))
				continue
			}
			b := a + g.r.IntN(last-a+1)
			elems = append(elems, fmt.Sprintf("%d-%d", a, b))
		}
		op, elems := g.op(3, dedupe(elems))
		return protoWord + " " + dir + " " + op + set(elems)
	case kindICMP:
		sel, types, kind := "icmp", icmpTypes, ir.KindICMPType
		if family == ir.IPv6 {
			sel, types, kind = "icmpv6", icmpv6Types, ir.KindICMPv6Type
		}
		var names []string
		for range 1 + g.r.IntN(3) {
			names = append(names, kind.NameOf(types[g.r.IntN(len(types))]))
		}
		op, names := g.op(1, dedupe(names))
		text := sel + " type " + op + set(names)
		if op == "" && len(names) == 1 && g.r.IntN(3) == 0 {
			text += fmt.Sprintf(" %s code %d", sel, icmpCodes[g.r.IntN(len(icmpCodes))])
		}
		return text
	case kindMark, kindCtMark:
		sel := "meta mark"
		if k == kindCtMark {
			sel = "ct mark"
		}
		var values []string
		for range 1 + g.r.IntN(2) {
			values = append(values, fmt.Sprintf("0x%x", marks[g.r.IntN(len(marks))]))
		}
		op, values := g.op(1, dedupe(values))
		if g.r.IntN(2) == 0 {
			cmp := "=="
			if op != "" {
				cmp = "!="
			}
			return fmt.Sprintf("%s and 0x%x %s %s", sel, markMasks[g.r.IntN(len(markMasks))], cmp, set(values))
		}
		return sel + " " + op + set(values)
	case kindOwner:
		if hook != ir.HookOutput {
			return "meta nfproto { ipv4, ipv6 }" // sockets own only what they send
		}
		sel := []string{"meta skuid", "meta skgid"}[g.r.IntN(2)]
		op, ids := g.op(1, dedupe([]string{fmt.Sprint(g.r.IntN(2)), fmt.Sprint(g.r.IntN(2) * 1000)}))
		return sel + " " + op + set(ids)
	case kindNfproto:
		op, fams := g.op(1, []string{[]string{"ipv4", "ipv6"}[g.r.IntN(2)]})
		return "meta nfproto " + op + set(fams)
	case kindTCPFlags:
		flags := []string{"syn", "ack", "rst", "fin"}
		a, b := flags[g.r.IntN(4)], flags[g.r.IntN(4)]
		switch g.r.IntN(4) {
		case 0:
			return "tcp flags " + strings.Join(dedupe([]string{a, b}), ",") // any of them set
		case 1:
			return fmt.Sprintf("tcp flags & (%s|%s) == %s", a, b, a)
		case 2:
			return fmt.Sprintf("tcp flags & (%s|%s) != %s", a, b, b)
		default:
			// Whole values under the six flags iptables can compare: the
			// flags are one of them (a first packet is syn, a later ack).
			values := []string{a}
			if a != b {
				values = append(values, a+"|"+b, b)
			}
			return "tcp flags & (fin|syn|rst|psh|ack|urg) == { " + strings.Join(values[:1+g.r.IntN(len(values))], ", ") + " }"
		}
	case kindPkttype:
		// Every probe is unicast ("host"): these test the comparison, and
		// which loaders accept the words.
		all := []string{"host", "broadcast", "multicast"}
		g.r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		op, types := g.op(1, all[:1+g.r.IntN(2)])
		return "meta pkttype " + op + set(types)
	case kindHops:
		return g.numbers(map[ir.Family]string{ir.IPv4: "ip ttl", ir.IPv6: "ip6 hoplimit"}[family], ir.FieldIPTTL, hopLimits)
	case kindDSCP:
		return g.numbers(map[ir.Family]string{ir.IPv4: "ip dscp", ir.IPv6: "ip6 dscp"}[family], ir.FieldIPDSCP, codePoints)
	case kindFib:
		// Probes in input are from the peer (unicast) for the firewall's
		// own addresses (local), those in output the other way round.
		all := []string{"local", "unicast", "multicast"}
		g.r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		op, types := g.op(1, all[:1+g.r.IntN(2)])
		return "fib " + []string{"daddr", "saddr"}[g.r.IntN(2)] + " type " + op + set(types)
	default:
		all := []string{"new", "established", "related", "invalid", "untracked"}
		g.r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		op, states := g.op(5, all[:1+g.r.IntN(3)])
		return "ct state " + op + strings.Join(states, ",")
	}
}

// numbers writes a match of one or two of edges, or ranges from them up
// to the field's largest value, by name where the field's kind has one.
func (g *Generator) numbers(sel string, f ir.Field, edges []uint32) string {
	kind := f.Spec().Kind
	top := uint32(kind.Max())
	var values []string
	for range 1 + g.r.IntN(2) {
		a := edges[g.r.IntN(len(edges))]
		if g.r.IntN(3) == 0 {
			values = append(values, fmt.Sprintf("%d-%d", a, a+uint32(g.r.IntN(int(top-a+1)))))
			continue
		}
		values = append(values, kind.NameOf(a))
	}
	op, values := g.op(2, dedupe(values))
	return sel + " " + op + set(values)
}

func dedupe(values []string) []string {
	var out []string
	for _, v := range values {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// addrElem is a random address, prefix or range inside pool.
func (g *Generator) addrElem(pool netip.Prefix) string {
	size := 1 << (pool.Addr().BitLen() - pool.Bits())
	switch g.r.IntN(3) {
	case 0:
		return offset(pool, g.r.IntN(size)).String()
	case 1:
		// A prefix inside the pool, aligned or not to a byte.
		hostBits := 1 + g.r.IntN(pool.Addr().BitLen()-pool.Bits()-1)
		block := 1 << hostBits
		start := g.r.IntN(size/block) * block
		return netip.PrefixFrom(offset(pool, start), pool.Addr().BitLen()-hostBits).String()
	default:
		a := g.r.IntN(size)
		b := a + g.r.IntN(size-a)
		if a == b {
			return offset(pool, a).String()
		}
		return offset(pool, a).String() + "-" + offset(pool, b).String()
	}
}

// offset is the address n after the start of pool.
func offset(pool netip.Prefix, n int) netip.Addr {
	b := pool.Masked().Addr().AsSlice()
	for i := len(b) - 1; n > 0; i-- {
		sum := int(b[i]) + n
		b[i] = byte(sum)
		n = sum >> 8
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
