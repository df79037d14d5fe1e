package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// PacketSyntax documents the packet line, for help texts and errors.
var PacketSyntax = `DIRECTION INTERFACES PROTOCOL SOURCE DESTINATION [DETAILS...]

  DIRECTION   in, out or forward
  INTERFACES  in: the input interface; out: the output interface;
              forward: both, input first
  PROTOCOL    tcp, udp, icmp or icmpv6
  SOURCE      ADDRESS:PORT for tcp and udp ([IPv6]:PORT), ADDRESS for ICMP
  DESTINATION the same
  DETAILS     for ICMP, the type (echo-request, nd-neighbor-solicit, ...,
              or a number); then, in any order, a conntrack state (new,
              established, related, invalid, untracked) and WORD VALUE
              for any of: ` + detailWords() + `
              (by name or number: "mark 0x1", "flags syn|ack", "ttl 1"),
              and for out "cgroup PATH": the sending socket's cgroup,
              below the cgroup2 root (the root itself by default).
              Defaults: the state is new, or what conntrack makes of the
              ICMP type; marks, uid and gid 0; pkttype host for what this
              machine sends, else as the destination address says; flags
              syn when new, else ack; ttl and hoplimit what the kernel
              sends (64; 255 for neighbour discovery, 1 for MLD); dscp
              0 (cs0); rpf exists (the route back to the source leaves
              by the input interface; "rpf missing" for a spoofed one);
              iifaddr local for what comes in for this machine (its
              destination an address of the input interface; "iifaddr
              unicast": another interface's, as a loopback packet to
              eth0's address);
              route missing for IPv4 broadcast and multicast (no route,
              default or other, covers the destination: "route exists"
              where one does; the kernel decides it for all others);
              dir original, but reply for related packets and
              established ICMP replies ("dir reply": an answer);
              the destination is local (fib daddr type) for in, and for
              out over lo

  out eth0 udp 192.0.2.2:40000 198.51.100.1:1194
  in wg0 tcp [2001:db8::9]:443 [2001:db8::2]:5000 established
  forward eth1 wg0 icmp 192.168.1.10 203.0.113.9 echo-request
  out eth0 icmpv6 fe80::1 ff02::2 nd-router-solicit mark 0x6d6f6c65 uid 0`

// PacketError is a packet line that does not parse: Col is the 1-based
// column of the offending word.
type PacketError struct {
	Col  int
	Msg  string
	Hint string
}

func (e *PacketError) Error() string { return fmt.Sprintf("%d: %s", e.Col, e.Msg) }

type word struct {
	text string
	col  int
}

func words(line string) []word {
	var out []word
	for i := 0; i < len(line); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		start := i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		if i > start {
			out = append(out, word{line[start:i], start + 1})
		}
	}
	return out
}

// ParsePacket reads a packet line (see PacketSyntax).
func ParsePacket(line string) (Packet, error) {
	ws := words(line)
	var p Packet
	errAt := func(w word, hint, format string, args ...any) error {
		return &PacketError{Col: w.col, Msg: fmt.Sprintf(format, args...), Hint: hint}
	}
	next := func(what string) (word, error) {
		if len(ws) == 0 {
			return word{}, &PacketError{Col: len(line) + 1, Msg: "missing " + what, Hint: "a packet line is " + strings.SplitN(PacketSyntax, "\n", 2)[0]}
		}
		w := ws[0]
		ws = ws[1:]
		return w, nil
	}
	w, err := next("the direction")
	if err != nil {
		return p, err
	}
	switch w.text {
	case "in":
		p.Dir = In
	case "out":
		p.Dir = Out
	case "forward":
		p.Dir = Forward
	default:
		return p, errAt(w, "use in, out or forward", "unknown direction %q", w.text)
	}
	ifaces := []*string{&p.Iif}
	switch p.Dir {
	case Out:
		ifaces = []*string{&p.Oif}
	case Forward:
		ifaces = []*string{&p.Iif, &p.Oif}
	}
	for _, iface := range ifaces {
		if w, err = next("an interface"); err != nil {
			return p, err
		}
		if err := ir.CheckInterfaceName(w.text); err != nil || strings.HasSuffix(w.text, "*") {
			return p, errAt(w, "a packet has one interface of each kind: no wildcard", "bad interface %q", w.text)
		}
		*iface = w.text
	}
	if w, err = next("the protocol"); err != nil {
		return p, err
	}
	proto, ok := map[string]ir.Protocol{"tcp": ir.TCP, "udp": ir.UDP, "icmp": ir.ICMP, "icmpv6": ir.ICMPv6}[w.text]
	if !ok {
		return p, errAt(w, "use tcp, udp, icmp or icmpv6", "unknown protocol %q", w.text)
	}
	p.Protocol = proto
	protoWord := w
	for i, end := range []*netip.Addr{&p.Src, &p.Dst} {
		what := []string{"the source", "the destination"}[i]
		if w, err = next(what); err != nil {
			return p, err
		}
		port := []*uint16{&p.Sport, &p.Dport}[i]
		if proto.HasPorts() {
			ap, err := netip.ParseAddrPort(w.text)
			if err != nil {
				return p, errAt(w, "write ADDRESS:PORT, or [IPv6]:PORT", "%s %q is not an address and port", what, w.text)
			}
			*end, *port = ap.Addr().Unmap(), ap.Port()
			continue
		}
		a, err := netip.ParseAddr(w.text)
		if err != nil {
			return p, errAt(w, "ICMP has no ports: write the address alone", "%s %q is not an address", what, w.text)
		}
		*end = a.Unmap()
	}
	if p.Src.Is4() != p.Dst.Is4() {
		return p, errAt(w, "", "the source and destination are of different families")
	}
	if proto == ir.ICMP && !p.Src.Is4() || proto == ir.ICMPv6 && !p.Src.Is6() {
		return p, errAt(protoWord, "icmp is IPv4's, icmpv6 IPv6's", "%s between %s addresses", proto, map[bool]string{true: "IPv4", false: "IPv6"}[p.Src.Is4()])
	}
	return p, details(&p, ws, errAt)
}

// details reads what follows the addresses: the ICMP type and code, the
// conntrack state, marks and owners.
func details(p *Packet, ws []word, errAt func(word, string, string, ...any) error) error {
	icmpKind := map[ir.Protocol]ir.Kind{ir.ICMP: ir.KindICMPType, ir.ICMPv6: ir.KindICMPv6Type}[p.Protocol]
	if icmpKind != 0 {
		if len(ws) == 0 {
			return &PacketError{Col: 1, Msg: "missing the ICMP type", Hint: "e.g. echo-request"}
		}
		t, ok := icmpKind.ValueOf(ws[0].text)
		if !ok {
			n, err := strconv.ParseUint(ws[0].text, 0, 8)
			if err != nil {
				return errAt(ws[0], "e.g. echo-request, nd-neighbor-solicit, or a number", "unknown ICMP type %q", ws[0].text)
			}
			t = uint32(n)
		}
		p.ICMPType = uint8(t)
		ws = ws[1:]
	}
	given := map[ir.Field]bool{}
	for len(ws) > 0 {
		w := ws[0]
		ws = ws[1:]
		if st, ok := ir.ParseCtState(w.text); ok {
			p.CtState, given[ir.FieldCtState] = st, true
			continue
		}
		if w.text == "cgroup" {
			if err := cgroupDetail(p, w, ws, errAt); err != nil {
				return err
			}
			ws = ws[1:]
			continue
		}
		f, err := detailField(p.Packet, w, errAt)
		if err != nil {
			return err
		}
		kind := f.Spec().Kind
		if len(ws) == 0 {
			return errAt(w, "e.g. "+w.text+" "+kind.NameOf(0), "%s needs a value", w.text)
		}
		v, ok := detailValue(kind, ws[0].text)
		if !ok {
			return errAt(ws[0], detailHint(kind), "%s needs %s, not %q", w.text, kind, ws[0].text)
		}
		if f == ir.FieldFibDaddrIifType {
			local, loopback := daddrType(*p) == ir.AddrLocal, p.Dst.IsLoopback()
			if t := ir.KindAddrType.NameOf(v); !local || loopback || t != "local" && t != "unicast" {
				return errAt(w, "say iifaddr unicast of a packet for one of this machine's addresses that is another interface's (a loopback packet to eth0's)",
					"iifaddr is local or unicast, for a packet to this machine's own address other than a loopback one")
			}
		}
		if f == ir.FieldFibDaddrOif && !p.RouteFree() {
			return errAt(w, "say route only of an IPv4 broadcast or multicast destination: whether a route (a default one) covers it",
				"the kernel decides this packet's route (fib daddr oif): none for this machine's own addresses, one for loopback, forwarded and IPv6 multicast packets")
		}
		ws = ws[1:]
		p.Set(f, v)
		given[f] = true
	}
	if p.Dir == Forward && p.Hops() <= 1 {
		return &PacketError{Col: 1, Msg: fmt.Sprintf("a forwarded packet with ttl %d never reaches the forward hook: the kernel drops it (time exceeded)", p.Hops()),
			Hint: "forward a packet with ttl 2 or more"}
	}
	p.fillDefaults(given)
	if p.Reply && p.CtState == ir.CtNew {
		return &PacketError{Col: 1, Msg: "a new packet goes its connection's original way: it has no reply direction",
			Hint: "say established (or related) with dir reply"}
	}
	return nil
}

// cgroupDetail reads "cgroup PATH": only a packet a local socket sends
// has one.
func cgroupDetail(p *Packet, w word, ws []word, errAt func(word, string, string, ...any) error) error {
	const hint = "e.g. cgroup user.slice/app.slice: the path below the cgroup2 root"
	if len(ws) == 0 {
		return errAt(w, hint, "cgroup needs a path")
	}
	if p.Dir != Out {
		return errAt(w, "", "only what this machine sends (out) comes from a cgroup's socket")
	}
	path := strings.TrimPrefix(ws[0].text, "/")
	if err := ir.CheckCgroupPath(path); err != nil {
		return errAt(ws[0], hint, "%v", err)
	}
	p.Cgroup = path
	return nil
}

// detailValue reads a detail's value: a name of its kind, or a number
// the kind takes.
func detailValue(kind ir.Kind, text string) (uint32, bool) {
	if v, ok := kind.ValueOf(text); ok {
		return v, true
	}
	n, err := strconv.ParseUint(text, 0, 32)
	return uint32(n), err == nil && n <= kind.Max() && !kind.NamesOnly()
}

// detailField is the field a packet line's detail word gives: of fields
// that share a word (code), the one of the packet's protocol and family.
func detailField(p ir.Packet, w word, errAt func(word, string, string, ...any) error) (ir.Field, error) {
	var named []ir.Field
	for _, f := range ir.AllFields() {
		if f.Spec().Detail == w.text {
			named = append(named, f)
		}
	}
	for _, f := range named {
		spec := f.Spec()
		if (spec.Protocol == ir.AnyTransport || spec.Protocol == p.Protocol) && (spec.Family == ir.Inet || spec.Family == p.Family()) {
			return f, nil
		}
	}
	if len(named) > 0 {
		spec := named[0].Spec()
		what := spec.Protocol.String()
		if spec.Protocol == ir.AnyTransport {
			what = map[ir.Family]string{ir.IPv4: "IPv4", ir.IPv6: "IPv6"}[spec.Family]
		}
		return 0, errAt(w, "", "%s is for %s packets (%s)", w.text, what, spec.Name)
	}
	return 0, errAt(w, "details are a conntrack state or one of: "+detailWords(), "unknown detail %q", w.text)
}

// detailWords lists the words a packet line gives details with.
func detailWords() string {
	var words []string
	for _, f := range ir.AllFields() {
		if d := f.Spec().Detail; d != "" && !slices.Contains(words, d) {
			words = append(words, d)
		}
	}
	return strings.Join(words, ", ")
}

func detailHint(kind ir.Kind) string {
	var names []string
	for _, n := range kind.Names() {
		names = append(names, n.Name)
	}
	switch {
	case kind.Spec().Shape == ir.ShapeFlags:
		return strings.Join(names, ", ") + ", joined by '|'"
	case kind.NamesOnly():
		return "use " + strings.Join(names, ", ")
	case len(names) > 0:
		return strings.Join(names, ", ") + ", or a number"
	}
	return fmt.Sprintf("a number from 0 to %d", kind.Max())
}

// FirstPacket is the first packet of a flow of which no more is known than
// pkt says (what conntrack records: addresses, ports, ICMP type): what was
// not given takes the defaults of a packet line.
func FirstPacket(dir Direction, pkt ir.Packet) Packet {
	p := Packet{Packet: pkt, Dir: dir}
	p.fillDefaults(nil)
	return p
}

// NaturalCtStatus is the status of the packet's connection as its first
// hook sees it: none yet for a new one (the kernel confirms it after the
// last hook), confirmed, seen-reply and assured for the connection of an
// established or related packet, as the lab makes it.
func NaturalCtStatus(p ir.Packet) uint32 {
	if p.CtState == ir.CtEstablished || p.CtState == ir.CtRelated {
		return ir.CtStatusLabFlow
	}
	return 0
}

// fillDefaults sets what a packet line did not give: the conntrack state,
// TCP flags and link-layer packet type.
func (p *Packet) fillDefaults(given map[ir.Field]bool) {
	if !given[ir.FieldCtState] {
		p.CtState = initialState(p.Packet)
	}
	if !given[ir.FieldCtDirection] {
		// An ICMP error is about a flow its receiver began, and an
		// established ICMP reply answers one: both go the reply way.
		_, answers := p.ICMPQuery()
		p.Reply = p.CtState == ir.CtRelated || p.CtState == ir.CtEstablished && answers
	}
	if !given[ir.FieldCtStatus] {
		p.CtStatus = NaturalCtStatus(p.Packet)
	}
	if p.Protocol == ir.TCP && !given[ir.FieldTCPFlags] {
		// A new connection's first packet is a SYN; any later one an ACK.
		p.TCPFlags = 0x02
		if p.CtState != ir.CtNew {
			p.TCPFlags = 0x10
		}
	}
	p.DaddrType, p.SaddrType = daddrType(*p), saddrType(*p)
	if !given[ir.FieldPkttype] && p.Dir != Out {
		// A local socket's packets are all "host" on their way out.
		switch {
		case p.Dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			p.Pkttype = 1
		case p.Dst.IsMulticast():
			p.Pkttype = 2
		}
	}
}

// daddrType is what the routing tables make of the destination, as fib
// daddr type reads it: the line says where the packet goes, and a packet
// for this machine (in, or out over lo) is for one of its addresses.
func daddrType(p Packet) uint8 {
	switch {
	case p.Dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return ir.AddrBroadcast
	case p.Dst.IsMulticast():
		return ir.AddrMulticast
	case p.Dir == In || p.Dir == Out && p.Oif == "lo":
		return ir.AddrLocal
	}
	return ir.AddrUnicast
}

// saddrType is what the routing tables make of the source, as fib saddr
// type reads it: this machine's own packets (out, or in over lo) come
// from one of its addresses; the kernel calls 0.0.0.0 broadcast.
func saddrType(p Packet) uint8 {
	switch {
	case p.Src == netip.AddrFrom4([4]byte{}) || p.Src == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return ir.AddrBroadcast
	case p.Src.IsMulticast():
		return ir.AddrMulticast
	case p.Dir == Out || p.Dir == In && p.Iif == "lo":
		return ir.AddrLocal
	}
	return ir.AddrUnicast
}

// initialState is the conntrack state of a flow's first packet: new, but
// for ICMP what conntrack makes of each type without a flow before it:
// queries are new, neighbour discovery and MLD untracked, the rest
// (replies, errors) invalid.
func initialState(p ir.Packet) ir.CtState {
	switch p.Protocol {
	case ir.ICMP:
		switch p.ICMPType {
		case 8, 13, 15, 17:
			return ir.CtNew
		}
		return ir.CtInvalid
	case ir.ICMPv6:
		switch {
		case p.ICMPType == 128 || p.ICMPType == 139:
			return ir.CtNew
		case p.ICMPType >= 130 && p.ICMPType <= 136 || p.ICMPType == 143:
			return ir.CtUntracked
		}
		return ir.CtInvalid
	}
	return ir.CtNew
}

// InitialState is exported for tests that build packets themselves.
func InitialState(p ir.Packet) ir.CtState { return initialState(p) }
