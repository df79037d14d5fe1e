package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/region"
)

// RegionSyntax documents a promise line of a .kst file.
const RegionSyntax = `never accept REGION [except EXCEPTION]...
always accept REGION [except EXCEPTION]...

  REGION     DIRECTION INTERFACES [PROTOCOL [SOURCE [DESTINATION [TYPES]]]]
             [STATES] [DETAILS]
  EXCEPTION  PROTOCOL [SOURCE [DESTINATION [TYPES]]] [STATES] [DETAILS],
             of the region's direction and interfaces
  Each part is what a packet line says, or * for any: interfaces may end
  in * (eth*), addresses may be prefixes (192.0.2.0/24) or ranges, ports
  ranges (1-1024), ICMP TYPES a list (echo-request,echo-reply), STATES a
  list (new,untracked), and DETAILS a packet line's (mark 0x1, uid
  0,1000, ttl 1-5). What is left out is any.

  never accept out eth0 * except udp * 198.51.100.1:1194
  never accept in eth0 tcp * *:22 new
  never accept out eth0 icmp * * echo-request,timestamp-request
  never accept out eth0 * * * new uid 1000-65535
  always accept out tun0`

// A Promise is a .kst line about every packet of a region: that the
// policy accepts none of it but its exceptions (never), or all of it but
// its exceptions (Always).
type Promise struct {
	Line   int
	Always bool
	Text   string
	Dir    Direction
	Region region.Cube
	Except []region.Cube
}

// ParsePromise reads a promise line after "never accept" (or, with
// Always set by the caller, "always accept").
func ParsePromise(text string) (Promise, error) {
	pr := Promise{Text: text}
	// The region, then each exception, with where each starts.
	var parts []string
	var starts []int
	for rest, at := text, 0; ; {
		i := strings.Index(rest, " except ")
		if i < 0 {
			parts, starts = append(parts, rest), append(starts, at)
			break
		}
		parts, starts = append(parts, rest[:i]), append(starts, at)
		rest, at = rest[i+len(" except "):], at+i+len(" except ")
	}
	ws := words(parts[0])
	if len(ws) == 0 {
		return pr, &PacketError{Col: 1, Msg: "missing the region", Hint: "a promise is " + strings.SplitN(RegionSyntax, "\n", 2)[0]}
	}
	switch ws[0].text {
	case "in":
		pr.Dir = In
	case "out":
		pr.Dir = Out
	case "forward":
		pr.Dir = Forward
	default:
		return pr, &PacketError{Col: ws[0].col, Msg: fmt.Sprintf("unknown direction %q", ws[0].text), Hint: "use in, out or forward"}
	}
	ws = ws[1:]
	fields := []ir.Field{ir.FieldIifname}
	switch pr.Dir {
	case Out:
		fields = []ir.Field{ir.FieldOifname}
	case Forward:
		fields = []ir.Field{ir.FieldIifname, ir.FieldOifname}
	}
	for _, f := range fields {
		if len(ws) == 0 {
			return pr, &PacketError{Col: len(parts[0]) + 1, Msg: "missing an interface", Hint: "name it, or * for any"}
		}
		if ws[0].text != "*" {
			if err := ir.CheckInterfaceName(ws[0].text); err != nil {
				return pr, &PacketError{Col: ws[0].col, Msg: err.Error(), Hint: "an interface name, a name ending in *, or * for any"}
			}
			pr.Region = pr.Region.With(f, ir.InterfaceSet(ws[0].text))
		}
		ws = ws[1:]
	}
	c, err := readRegion(pr.Region, ws)
	if err != nil {
		return pr, err
	}
	pr.Region = c
	for i, e := range parts[1:] {
		ws := words(e)
		if len(ws) == 0 {
			return pr, &PacketError{Col: starts[i+1], Msg: "except needs a protocol and addresses", Hint: "e.g. except udp * 198.51.100.1:1194"}
		}
		x, err := readRegion(pr.Region, ws)
		if pe, ok := err.(*PacketError); ok {
			pe.Col += starts[i+1]
			return pr, pe
		}
		pr.Except = append(pr.Except, x)
	}
	return pr, nil
}

// readRegion narrows c by "[PROTOCOL [SOURCE [DESTINATION]]] [STATES]".
func readRegion(c region.Cube, ws []word) (region.Cube, error) {
	bad := func(w word, msg, hint string) error { return &PacketError{Col: w.col, Msg: msg, Hint: hint} }
	errAt := func(w word, hint, format string, args ...any) error {
		return bad(w, fmt.Sprintf(format, args...), hint)
	}
	// Where the words of the packet line end and the details begin.
	detail := func(w word) bool { return isStates(w.text) || isDetail(w.text) }
	var proto ir.Protocol
	if len(ws) > 0 && !detail(ws[0]) {
		p, ok := map[string]ir.Protocol{"tcp": ir.TCP, "udp": ir.UDP, "icmp": ir.ICMP, "icmpv6": ir.ICMPv6}[ws[0].text]
		switch {
		case ws[0].text == "*":
		case !ok:
			return c, bad(ws[0], fmt.Sprintf("unknown protocol %q", ws[0].text), "use tcp, udp, icmp, icmpv6 or *")
		default:
			proto = p
			c = c.With(ir.FieldL4Proto, ir.ProtocolSet(proto))
		}
		ws = ws[1:]
		for _, end := range []struct{ v4, v6, port ir.Field }{{ir.FieldIPSaddr, ir.FieldIP6Saddr, ir.FieldSport}, {ir.FieldIPDaddr, ir.FieldIP6Daddr, ir.FieldDport}} {
			if len(ws) == 0 || detail(ws[0]) {
				break
			}
			var err error
			if c, err = readEnd(c, ws[0], end.v4, end.v6, end.port, proto.HasPorts()); err != nil {
				return c, err
			}
			ws = ws[1:]
		}
		// ICMP: the types, as a packet line gives its one.
		if typeField, icmp := map[ir.Protocol]ir.Field{ir.ICMP: ir.FieldICMPType, ir.ICMPv6: ir.FieldICMPv6Type}[proto]; icmp && len(ws) > 0 && !detail(ws[0]) {
			if ws[0].text != "*" {
				set, err := readValues(typeField, ws[0])
				if err != nil {
					return c, err
				}
				c = c.With(typeField, set)
			}
			ws = ws[1:]
		}
	}
	if len(ws) > 0 && isStates(ws[0].text) {
		var states []ir.CtState
		for _, name := range strings.Split(ws[0].text, ",") {
			st, ok := ir.ParseCtState(name)
			if !ok {
				return c, bad(ws[0], fmt.Sprintf("unknown conntrack state %q", name), "new, established, related, invalid or untracked, joined by commas")
			}
			states = append(states, st)
		}
		c = c.With(ir.FieldCtState, ir.CtStateSet(states...))
		ws = ws[1:]
	}
	// Details, as a packet line's: "mark 0x1", "uid 0,1000", "ttl 1-5".
	for len(ws) > 0 {
		if !isDetail(ws[0].text) {
			return c, bad(ws[0], fmt.Sprintf("unexpected %q", ws[0].text), "a region is DIRECTION INTERFACES [PROTOCOL [SOURCE [DESTINATION [TYPES]]]] [STATES], then details: "+detailWords())
		}
		if len(ws) < 2 {
			return c, bad(ws[0], ws[0].text+" needs a value", "e.g. "+ws[0].text+" 1, a list 1,2 or a range 1-5")
		}
		f, err := regionDetailField(ws[0], proto, c, errAt)
		if err != nil {
			return c, err
		}
		set, err := readValues(f, ws[1])
		if err != nil {
			return c, err
		}
		c = c.With(f, set)
		if fam := f.Spec().Family; fam != ir.Inet {
			c = c.With(ir.FieldNfproto, ir.NfprotoSet(fam))
		}
		ws = ws[2:]
	}
	return c, nil
}

// isDetail reports a packet line's detail word ("mark", "uid", ...).
func isDetail(w string) bool {
	return slices.ContainsFunc(ir.AllFields(), func(f ir.Field) bool { return f.Spec().Detail == w })
}

// regionDetailField is the field a detail word gives in a region, as a
// packet line's (detailField) of the region's protocol and family; of a
// region of both families, the family the word is of (ttl IPv4's,
// hoplimit IPv6's).
func regionDetailField(w word, proto ir.Protocol, c region.Cube, errAt func(word, string, string, ...any) error) (ir.Field, error) {
	var err error
	for _, family := range []ir.Family{ir.IPv4, ir.IPv6} {
		if c.Set(ir.FieldNfproto).Intersect(ir.NfprotoSet(family)).IsEmpty() {
			continue
		}
		probe := ir.Packet{Src: map[ir.Family]netip.Addr{ir.IPv4: netip.IPv4Unspecified(), ir.IPv6: netip.IPv6Unspecified()}[family], Protocol: proto}
		var f ir.Field
		if f, err = detailField(probe, w, errAt); err == nil {
			return f, nil
		}
	}
	return 0, err
}

// readValues reads the values of a field a region word gives: names or
// numbers of its kind, joined by commas, each perhaps a range (a-b).
func readValues(f ir.Field, w word) (ir.Set, error) {
	kind := f.Spec().Kind
	value := func(s string) (uint32, bool) { return detailValue(kind, s) }
	var spans []ir.Span
	for _, part := range strings.Split(w.text, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		a, okA := value(lo)
		b, okB := value(hi)
		if !isRange || !okA || !okB {
			// A name with a dash (nd-neighbor-solicit) is one value.
			a, okA = value(part)
			b, okB = a, okA
		}
		if !okA || !okB || b < a {
			return nil, &PacketError{Col: w.col, Msg: fmt.Sprintf("%q is not one of the %s", part, kind), Hint: detailHint(kind)}
		}
		spans = append(spans, ir.Span{Lo: ir.NumberSet(a)[0].Lo, Hi: ir.NumberSet(b)[0].Lo})
	}
	return ir.NewSet(spans...), nil
}

func isStates(s string) bool {
	_, ok := ir.ParseCtState(strings.Split(s, ",")[0])
	return ok
}

// readEnd narrows c by one end of the packets: "*", an address, prefix
// or range, and for tcp and udp ":PORT" or ":FIRST-LAST" ("[...]:PORT"
// for IPv6).
func readEnd(c region.Cube, w word, v4, v6, port ir.Field, ports bool) (region.Cube, error) {
	addr, portText := w.text, ""
	if i := strings.LastIndexByte(w.text, ':'); ports && i >= 0 && (strings.HasPrefix(w.text, "[") || strings.Count(w.text, ":") == 1) {
		addr, portText = strings.Trim(w.text[:i], "[]"), w.text[i+1:]
	}
	if addr != "*" {
		elem, msg, hint := ir.ParseAddrElem(addr)
		if msg == ir.NotAnAddress {
			msg, hint = fmt.Sprintf("%q is not an address, prefix or range", addr), "e.g. 192.0.2.1, 198.51.100.0/24, [2001:db8::/32]:443, or * for any"
		}
		if msg != "" {
			return c, &PacketError{Col: w.col, Msg: msg, Hint: hint}
		}
		f, family := v4, ir.IPv4
		if elem.From.Is6() {
			f, family = v6, ir.IPv6
		}
		// An address is of one family: a packet of the other has none.
		c = c.With(f, ir.AddrSet([]ir.AddrElem{elem})).With(ir.FieldNfproto, ir.NfprotoSet(family))
	}
	if portText != "" && portText != "*" {
		first, last, found := strings.Cut(portText, "-")
		if !found {
			last = first
		}
		a, err1 := strconv.ParseUint(first, 10, 16)
		b, err2 := strconv.ParseUint(last, 10, 16)
		if err1 != nil || err2 != nil || a > b {
			return c, &PacketError{Col: w.col, Msg: fmt.Sprintf("%q is not a port or a range of ports", portText), Hint: "e.g. :443, :1-1024, or :* for any"}
		}
		c = c.With(port, ir.PortSet(ir.PortRange{First: uint16(a), Last: uint16(b)}))
	}
	return c, nil
}

// Proof is what became of a promise: kept, broken by a packet the
// simulator accepts, or for Always does not (Witness), or unknown
// (Unknown says why).
type Proof struct {
	Promise
	Kept    bool
	Witness string     // a packet line that breaks it
	Got     ir.Verdict // what the policy does with it
	By      string     // what decides it
	// Breaks is the part of the region the witness is of, as a packet
	// line with sets (FormatRegion).
	Breaks string
	// WitnessPacket is Witness, parsed.
	WitnessPacket Packet
	Unknown       []string
}

// Prove decides a promise for every packet of its region (Fates). A part
// the policy accepts that its exceptions leave something of breaks the
// promise; the packet that shows it must be accepted by Evaluate too, or
// the answer is "unknown" with the reasons, never a guess.
func (pr Promise) Prove(p *ir.Policy) Proof {
	proof := Proof{Promise: pr}
	fates, err := Fates(p, pr.Dir, pr.Region)
	if err != nil {
		proof.Unknown = []string{err.Error()}
		return proof
	}
	for _, f := range fates {
		if f.Verdict != ir.NoVerdict && (f.Verdict == ir.Accept) == pr.Always {
			continue // what the promise allows
		}
		// Its packets as they came, less the exceptions.
		cubes, ok := f.Cubes(maxPieces)
		var left []region.Cube
		for _, c := range cubes {
			if c = c.Intersect(pr.Region); !c.Empty() {
				left = append(left, c)
			}
		}
		if ok {
			left, ok = region.Carve(left, pr.Except, maxPieces)
		}
		if !ok {
			proof.Unknown = append(proof.Unknown, ErrTooMany.Error())
			continue
		}
		for _, c := range left {
			if w, ok := witness(pr.Dir, c, p); ok {
				if res := Evaluate(p, w); res.Verdict != ir.NoVerdict && (res.Verdict == ir.Accept) != pr.Always && w.inRegion(pr) {
					proof.Witness, proof.Got, proof.By, proof.Breaks, proof.WitnessPacket = FormatPacket(w), res.Verdict, decidedBy(res), FormatRegion(pr.Dir, c), w
					return proof
				}
			}
			var reasons []string
			for _, u := range f.Maybe {
				reasons = append(reasons, u.String())
			}
			for _, r := range f.Rewritten {
				reasons = append(reasons, fmt.Sprintf("a rule on the way rewrites %s, and which packets had which %s before is not followed", r, r))
			}
			if len(reasons) == 0 {
				reasons = []string{"no packet line can stand for the packets " + Past(f.Verdict) + ": " + FormatRegion(pr.Dir, c)}
			}
			for _, r := range reasons {
				if !slices.Contains(proof.Unknown, r) {
					proof.Unknown = append(proof.Unknown, r)
				}
			}
		}
	}
	proof.Kept = len(proof.Unknown) == 0
	return proof
}

// Past is a verdict as what was done: accepted, dropped, rejected.
func Past(v ir.Verdict) string {
	return map[ir.Verdict]string{ir.Accept: "accepted", ir.Drop: "dropped", ir.Reject: "rejected"}[v]
}

func decidedBy(res Result) string {
	if r := decider(res); r != nil {
		return r.Pos.String()
	}
	return "the chains' policies"
}

// inRegion reports whether the packet is the promise's: in its region
// and none of its exceptions.
func (p Packet) inRegion(pr Promise) bool {
	if p.Dir != pr.Dir || !pr.Region.Has(p.Packet) {
		return false
	}
	return !slices.ContainsFunc(pr.Except, func(x region.Cube) bool { return x.Has(p.Packet) })
}

// witness picks a packet of cube c going dir, as a packet line would say
// it; false when no packet line can (a protocol it has no word for, a
// field it cannot give).
func witness(dir Direction, c region.Cube, p *ir.Policy) (Packet, bool) {
	family := ir.IPv4
	if c.Set(ir.FieldNfproto).Intersect(ir.NfprotoSet(ir.IPv4)).IsEmpty() {
		family = ir.IPv6
	}
	icmp := map[ir.Family]ir.Protocol{ir.IPv4: ir.ICMP, ir.IPv6: ir.ICMPv6}[family]
	protos := c.Set(ir.FieldL4Proto)
	i := slices.IndexFunc([]ir.Protocol{ir.TCP, ir.UDP, icmp}, func(pr ir.Protocol) bool { return !protos.Intersect(ir.ProtocolSet(pr)).IsEmpty() })
	if i < 0 {
		return Packet{}, false
	}
	proto := []ir.Protocol{ir.TCP, ir.UDP, icmp}[i]
	c = c.With(ir.FieldL4Proto, ir.ProtocolSet(proto)).With(ir.FieldNfproto, ir.NfprotoSet(family))
	var line []string
	line = append(line, dir.String())
	ifaces := []ir.Field{ir.FieldIifname}
	switch dir {
	case Out:
		ifaces = []ir.Field{ir.FieldOifname}
	case Forward:
		ifaces = []ir.Field{ir.FieldIifname, ir.FieldOifname}
	}
	for _, f := range ifaces {
		set := c.Set(f)
		if dir == Forward {
			set = set.Minus(ir.InterfaceSet("lo")) // nothing is forwarded from or to lo
		}
		name, ok := pickInterface(set, p)
		if !ok {
			return Packet{}, false
		}
		line = append(line, name)
	}
	line = append(line, map[ir.Protocol]string{ir.TCP: "tcp", ir.UDP: "udp", ir.ICMP: "icmp", ir.ICMPv6: "icmpv6"}[proto])
	defaults := map[ir.Family][2]string{ir.IPv4: {"192.0.2.2", "198.51.100.9"}, ir.IPv6: {"2001:db8::2", "2001:db8:1::9"}}[family]
	addrFields := map[ir.Family][2]ir.Field{ir.IPv4: {ir.FieldIPSaddr, ir.FieldIPDaddr}, ir.IPv6: {ir.FieldIP6Saddr, ir.FieldIP6Daddr}}[family]
	for j, port := range []ir.Field{ir.FieldSport, ir.FieldDport} {
		a := pickAddr(c.Set(addrFields[j]), addrFields[j], defaults[j])
		if !proto.HasPorts() {
			line = append(line, a.String())
			continue
		}
		line = append(line, netip.AddrPortFrom(a, pickPort(c.Set(port), []uint16{40000, 9}[j])).String())
	}
	states := c.Set(ir.FieldCtState)
	state := ir.CtNew
	if !states.Has(ir.CtStateSet(ir.CtNew)[0].Lo) {
		state = ir.CtState(states[0].Lo.Uint())
	}
	if proto == icmp {
		kind := map[ir.Protocol]ir.Field{ir.ICMP: ir.FieldICMPType, ir.ICMPv6: ir.FieldICMPv6Type}[proto]
		var t uint32
		t, state = icmpType(c.Set(kind), states, state, ir.Packet{Src: netip.MustParseAddr(defaults[0]), Protocol: proto})
		line = append(line, strconv.Itoa(int(t)))
	}
	if state != ir.CtNew {
		line = append(line, state.String())
	}
	w, err := ParsePacket(strings.Join(line, " "))
	if err != nil {
		return Packet{}, false
	}
	// The other fields the cube narrows that a packet line gives ("mark
	// 0x1", "rpf missing"), where the line's default is not in it.
	for _, f := range c.Fields() {
		if k, ok := w.Value(f); !ok || !c.Set(f).Has(k) {
			w.Set(f, uint32(c.Set(f)[0].Lo.Uint()))
		}
	}
	// As its line says it, or not at all.
	again, err := ParsePacket(FormatPacket(w))
	if err != nil || !c.Has(again.Packet) {
		return Packet{}, false
	}
	return again, true
}

// icmpType picks an ICMP type of types whose first packet conntrack gives
// a state of states (an echo request is new, a reply without its request
// invalid), as the lab can make it, new first, then state; else the first
// type, and state.
func icmpType(types, states ir.Set, state ir.CtState, p ir.Packet) (uint32, ir.CtState) {
	for _, want := range []ir.CtState{ir.CtNew, state} {
		for _, t := range []uint32{8, 0, 3, 128, 129, 1, 135, 136, 133, 134} {
			p.ICMPType = uint8(t)
			if types.Has(ir.NumberSet(t)[0].Lo) && states.Has(ir.CtStateSet(want)[0].Lo) && InitialState(p) == want {
				return t, want
			}
		}
	}
	return uint32(types[0].Lo.Uint()), state
}

// pickInterface is a name in set: one the policy names, or one a span
// holds.
func pickInterface(set ir.Set, p *ir.Policy) (string, bool) {
	var names []string
	for _, t := range p.Tables {
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				for _, m := range r.Matches {
					if k := region.Canonical(m.Field); k == ir.FieldIifname || k == ir.FieldOifname {
						for _, sp := range m.Values {
							if name, ok := ir.InterfacePattern(sp); ok {
								names = append(names, strings.TrimSuffix(name, "*")+map[bool]string{true: "0"}[strings.HasSuffix(name, "*")])
							}
						}
					}
				}
			}
		}
	}
	for _, sp := range set {
		if name, ok := ir.InterfacePattern(sp); ok {
			names = append(names, strings.TrimSuffix(name, "*")+map[bool]string{true: "0"}[strings.HasSuffix(name, "*")])
		}
	}
	names = append(names, "eth0", "eth1", "wg0", "tun0", "lo", "zz0")
	for _, n := range names {
		if ir.CheckInterfaceName(n) == nil && set.Has(ir.InterfaceSet(n)[0].Lo) {
			return n, true
		}
	}
	return "", false
}

func pickAddr(set ir.Set, f ir.Field, def string) netip.Addr {
	a := netip.MustParseAddr(def)
	if set.Has(ir.AddrKey(a)) {
		return a
	}
	return ir.Addrs(f.Spec().Kind, set)[0].From
}

func pickPort(set ir.Set, def uint16) uint16 {
	if set.Has(ir.PortSet(ir.PortRange{First: def, Last: def})[0].Lo) {
		return def
	}
	for _, r := range ir.Ports(set) {
		if r.Last > 0 {
			return max(r.First, 1)
		}
	}
	return def
}

// FormatPacket writes a packet as its line says it: direction,
// interfaces, protocol, ends, and the details that differ from what the
// line would mean without them.
func FormatPacket(p Packet) string {
	parts := []string{p.Dir.String()}
	switch p.Dir {
	case In:
		parts = append(parts, p.Iif)
	case Out:
		parts = append(parts, p.Oif)
	default:
		parts = append(parts, p.Iif, p.Oif)
	}
	parts = append(parts, map[ir.Protocol]string{ir.TCP: "tcp", ir.UDP: "udp", ir.ICMP: "icmp", ir.ICMPv6: "icmpv6"}[p.Protocol])
	for i, a := range []netip.Addr{p.Src, p.Dst} {
		if p.Protocol.HasPorts() {
			parts = append(parts, netip.AddrPortFrom(a, []uint16{p.Sport, p.Dport}[i]).String())
		} else {
			parts = append(parts, a.String())
		}
	}
	if p.Protocol == ir.ICMP || p.Protocol == ir.ICMPv6 {
		kind := map[ir.Protocol]ir.Kind{ir.ICMP: ir.KindICMPType, ir.ICMPv6: ir.KindICMPv6Type}[p.Protocol]
		parts = append(parts, kind.NameOf(uint32(p.ICMPType)))
	}
	if p.CtState != InitialState(p.Packet) {
		parts = append(parts, p.CtState.String())
	}
	// The details, where the line without them means otherwise.
	plain, err := ParsePacket(strings.Join(parts, " "))
	if err != nil {
		return strings.Join(parts, " ")
	}
	var words []string
	for _, f := range ir.AllFields() {
		spec := f.Spec()
		if spec.Detail == "" || slices.Contains(words, spec.Detail) {
			continue
		}
		k, ok := p.Value(f)
		if was, wasOK := plain.Value(f); !ok || wasOK && was == k {
			continue
		}
		words = append(words, spec.Detail)
		parts = append(parts, spec.Detail, spec.Kind.NameOf(uint32(k.Uint())))
	}
	if p.Cgroup != "" {
		parts = append(parts, "cgroup", p.Cgroup)
	}
	return strings.Join(parts, " ")
}

// FormatRegion writes a region as a packet line with sets: each field it
// narrows, as a rule would match it.
// A field's values are written as a rule would match them, or as what
// they are not where that is shorter ("iifname != "lo""); a field any
// value of which is in the region is left out.
func FormatRegion(dir Direction, c region.Cube) string {
	parts := []string{dir.String()}
	for _, f := range c.Fields() {
		set, all := c.Set(f), f.Spec().Kind.Universe()
		if set.Equal(all) {
			continue
		}
		m := &ir.Match{Field: f, Values: set}
		if not := all.Minus(set); len(not) < len(set) {
			m = &ir.Match{Field: f, Op: ir.Neq, Values: not}
		}
		parts = append(parts, m.Text())
	}
	return strings.Join(parts, " ")
}
