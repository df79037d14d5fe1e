package lab

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/sim"
	"golang.org/x/sys/unix"
)

// table is the lab's own: it prepares probes and counts what happens to
// them, beside the policy and never in its way (every chain accepts).
var table = &nftables.Table{Family: nftables.TableFamilyINet, Name: "ksc_lab"}

// The lab's named counters: rules count into them by name, and reading
// them back never decodes a rule (google/nftables cannot decode every
// expression the lab writes).
const (
	tagPassed   = "passed"
	tagAnswered = "answered"
	tagMarker   = "marker"
)

// ctmarkPriority comes right after conntrack, which gives a new packet
// its flow: before it, a flow has no mark to set.
const ctmarkPriority = -199

// marker is the packet the peer sends after each arriving probe. The lab
// counts and drops it before any other chain: once it is counted, the
// probe before it on the same queue has been judged.
var marker = sim.Packet{Dir: sim.In, Packet: ir.Packet{
	Protocol: ir.UDP, Src: netip.MustParseAddr("192.0.2.254"), Dst: netip.MustParseAddr("192.0.2.253"), Sport: 9, Dport: 9,
}}

// observe replaces the lab's table with one made for probe p.
func (l *Lab) observe(p sim.Packet, notrack bool) error {
	c, err := l.conn()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	if l.observing {
		c.DelTable(table)
	}
	c.AddTable(table)
	for _, name := range []string{tagPassed, tagAnswered, tagMarker} {
		c.AddObj(&nftables.CounterObj{Table: table, Name: name})
	}
	replies := answers(p.Packet)
	for _, a := range replies {
		c.AddObj(&nftables.CounterObj{Table: table, Name: a.tag()})
	}
	chain := func(name string, hook *nftables.ChainHook, prio int32) *nftables.Chain {
		return c.AddChain(&nftables.Chain{Name: name, Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: nftables.ChainPriorityRef(nftables.ChainPriority(prio))})
	}
	rule := func(ch *nftables.Chain, exprs ...expr.Any) {
		c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: exprs})
	}
	count := func(name string) expr.Any { return &expr.Objref{Type: unix.NFT_OBJECT_COUNTER, Name: name} }
	incoming := p.Dir != sim.Out
	firstIn := chain("first_prerouting", nftables.ChainHookPrerouting, math.MinInt32)
	firstOut := chain("first_output", nftables.ChainHookOutput, math.MinInt32)
	first := map[bool]*nftables.Chain{true: firstIn, false: firstOut}[incoming]
	if incoming {
		rule(firstIn, append(tuple(marker.Packet), count(tagMarker), &expr.Verdict{Kind: expr.VerdictDrop})...)
		if p.Mark != 0 {
			rule(firstIn, append(tuple(p.Packet), set32(p.Mark, &expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1})...)...)
		}
	}
	if notrack {
		rule(first, append(tuple(p.Packet), &expr.Notrack{})...)
	}
	for _, a := range replies {
		rule(firstOut, append(a.exprs, count(tagAnswered), count(a.tag()))...)
	}
	if p.CtMark != 0 && p.CtState == ir.CtNew {
		hook := map[bool]*nftables.ChainHook{true: nftables.ChainHookPrerouting, false: nftables.ChainHookOutput}[incoming]
		rule(chain("ctmark", hook, ctmarkPriority), append(tuple(p.Packet), set32(p.CtMark, &expr.Ct{Key: expr.CtKeyMARK, SourceRegister: true, Register: 1})...)...)
	}
	lastHooks := []*nftables.ChainHook{nftables.ChainHookPostrouting}
	if p.Dir == sim.In {
		// An arriving probe a dnat sends to another host is forwarded:
		// it passes when it leaves, as a forwarded one does.
		lastHooks = []*nftables.ChainHook{nftables.ChainHookInput, nftables.ChainHookPostrouting}
	}
	for i, hook := range lastHooks {
		last := chain(fmt.Sprintf("last%d", i), hook, math.MaxInt32)
		rule(last, append(tuple(p.Packet), count(tagPassed))...)
		// The kernel's answer to a rejected probe carries the probe's own
		// connection (nf_reject attaches it), so it would pass for the
		// probe below: it goes from the probe's destination back to its
		// source, which no rewriting of the probe itself does.
		rule(last, append(reversed(p.Packet), &expr.Verdict{Kind: expr.VerdictReturn})...)
		// Nor does a reset sent from where a dnat sent the probe (not its
		// destination, so not reversed): conntrack gives what answers a
		// probe, a reply, the reply direction.
		rule(last, &expr.Ct{Register: 1, Key: expr.CtKeyDIRECTION}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{1}}, &expr.Verdict{Kind: expr.VerdictReturn})
		// After NAT (dnat or redirect on the way in, snat on the way out)
		// the packet's own addresses are no longer the probe's: its
		// connection's original direction still is. A packet both match
		// counts twice, which is still "passed".
		rule(last, append(originalTuple(p.Packet), count(tagPassed))...)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("loading the lab's own table: %w", err)
	}
	l.observing = true
	return nil
}

// counts reads the lab's counters.
func (l *Lab) counts() (map[string]uint64, error) {
	c, err := l.conn()
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	objs, err := c.GetObjects(table)
	if err != nil {
		return nil, fmt.Errorf("reading the lab's counters: %w", err)
	}
	n := map[string]uint64{}
	for _, o := range objs {
		if ctr, ok := o.(*nftables.CounterObj); ok {
			n[ctr.Name] = ctr.Packets
		}
	}
	return n, nil
}

func (l *Lab) conn() (*nftables.Conn, error) {
	h, err := nsenter.Open(l.Path())
	if err != nil {
		return nil, err
	}
	defer h.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(h)), nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("nftables in the lab: %w", err)
	}
	return c, nil
}

// tuple matches p's family, protocol, addresses, and ports or ICMP type
// and code: the probe and nothing else the lab sends.
func tuple(p ir.Packet) []expr.Any {
	family, src, dst := byte(unix.NFPROTO_IPV4), uint32(12), uint32(16)
	if p.Family() == ir.IPv6 {
		family, src, dst = unix.NFPROTO_IPV6, 8, 24
	}
	e := []expr.Any{}
	e = append(e, cmpMeta(expr.MetaKeyNFPROTO, family)...)
	e = append(e, cmpMeta(expr.MetaKeyL4PROTO, byte(p.Protocol))...)
	e = append(e, cmpPayload(expr.PayloadBaseNetworkHeader, src, p.Src.AsSlice())...)
	e = append(e, cmpPayload(expr.PayloadBaseNetworkHeader, dst, p.Dst.AsSlice())...)
	if p.Protocol.HasPorts() {
		e = append(e, cmpPayload(expr.PayloadBaseTransportHeader, 0, binary.BigEndian.AppendUint16(nil, p.Sport))...)
		return append(e, cmpPayload(expr.PayloadBaseTransportHeader, 2, binary.BigEndian.AppendUint16(nil, p.Dport))...)
	}
	return append(e, cmpPayload(expr.PayloadBaseTransportHeader, 0, []byte{p.ICMPType, p.ICMPCode})...)
}

// reversed matches a packet from p's destination to p's source.
func reversed(p ir.Packet) []expr.Any {
	family, src, dst := byte(unix.NFPROTO_IPV4), uint32(12), uint32(16)
	if p.Family() == ir.IPv6 {
		family, src, dst = unix.NFPROTO_IPV6, 8, 24
	}
	e := cmpMeta(expr.MetaKeyNFPROTO, family)
	e = append(e, cmpPayload(expr.PayloadBaseNetworkHeader, src, p.Dst.AsSlice())...)
	return append(e, cmpPayload(expr.PayloadBaseNetworkHeader, dst, p.Src.AsSlice())...)
}

// originalTuple matches a packet whose connection began as p: family,
// protocol, and the original direction's addresses and ports (ICMP by
// its type and code, which NAT leaves alone).
func originalTuple(p ir.Packet) []expr.Any {
	family := byte(unix.NFPROTO_IPV4)
	if p.Family() == ir.IPv6 {
		family = unix.NFPROTO_IPV6
	}
	ct := func(key expr.CtKey, value []byte) []expr.Any {
		return []expr.Any{&expr.Ct{Register: 1, Key: key}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: value}}
	}
	// In an inet table conntrack's addresses are 16 bytes, an IPv4 one
	// followed by zeros.
	addr := func(a netip.Addr) []byte { return append(a.AsSlice(), make([]byte, 16-a.BitLen()/8)...) }
	e := []expr.Any{}
	e = append(e, cmpMeta(expr.MetaKeyNFPROTO, family)...)
	e = append(e, cmpMeta(expr.MetaKeyL4PROTO, byte(p.Protocol))...)
	e = append(e, ct(expr.CtKeySRC, addr(p.Src))...)
	e = append(e, ct(expr.CtKeyDST, addr(p.Dst))...)
	if p.Protocol.HasPorts() {
		e = append(e, ct(expr.CtKeyPROTOSRC, binary.BigEndian.AppendUint16(nil, p.Sport))...)
		return append(e, ct(expr.CtKeyPROTODST, binary.BigEndian.AppendUint16(nil, p.Dport))...)
	}
	return append(e, cmpPayload(expr.PayloadBaseTransportHeader, 0, []byte{p.ICMPType, p.ICMPCode})...)
}

// answer is a reply the kernel may send when a rule rejects a probe, and
// the rule's expressions that match it.
type answer struct {
	with  ir.RejectWith // as InFamily gives it
	exprs []expr.Any
}

// tag names the answer's counter.
func (a answer) tag() string {
	if a.with.Kind == ir.RejectTCPReset {
		return "reset"
	}
	return fmt.Sprintf("unreachable-%d", a.with.Code)
}

// unreachableCodes bounds the destination-unreachable codes the lab tells
// apart: ICMP's are 0 to 15, ICMPv6's 0 to 7.
var unreachableCodes = map[ir.Family]uint8{ir.IPv4: 16, ir.IPv6: 8}

// answers match what the kernel may send back when a rule rejects p: an
// ICMP destination-unreachable to p's source, by its code, or a TCP reset.
func answers(p ir.Packet) []answer {
	family, dst := byte(unix.NFPROTO_IPV4), uint32(16)
	kind, icmp, unreachable := ir.RejectICMP, ir.ICMP, byte(3)
	if p.Family() == ir.IPv6 {
		family, dst, kind, icmp, unreachable = unix.NFPROTO_IPV6, 24, ir.RejectICMPv6, ir.ICMPv6, 1
	}
	to := append(cmpMeta(expr.MetaKeyNFPROTO, family), cmpPayload(expr.PayloadBaseNetworkHeader, dst, p.Src.AsSlice())...)
	var out []answer
	for code := range unreachableCodes[p.Family()] {
		exprs := append(to[:len(to):len(to)], cmpMeta(expr.MetaKeyL4PROTO, byte(icmp))...)
		exprs = append(exprs, cmpPayload(expr.PayloadBaseTransportHeader, 0, []byte{unreachable, code})...)
		out = append(out, answer{ir.RejectWith{Kind: kind, Code: code}, exprs})
	}
	if p.Protocol == ir.TCP {
		reset := append(to[:len(to):len(to)], cmpMeta(expr.MetaKeyL4PROTO, byte(ir.TCP))...)
		reset = append(reset, cmpPayload(expr.PayloadBaseTransportHeader, 0, binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, p.Dport), p.Sport))...)
		out = append(out, answer{ir.RejectWith{Kind: ir.RejectTCPReset}, reset})
	}
	return out
}

func cmpMeta(key expr.MetaKey, value byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{value}},
	}
}

func cmpPayload(base expr.PayloadBase, offset uint32, value []byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: base, Offset: offset, Len: uint32(len(value))},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: value},
	}
}

// set32 loads v into register 1 for the statement that follows.
func set32(v uint32, statement expr.Any) []expr.Any {
	return []expr.Any{&expr.Immediate{Register: 1, Data: binary.NativeEndian.AppendUint32(nil, v)}, statement}
}
