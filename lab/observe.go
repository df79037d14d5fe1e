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

// Counters of the lab's table, told apart by their rules' user data.
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
	chain := func(name string, hook *nftables.ChainHook, prio int32) *nftables.Chain {
		return c.AddChain(&nftables.Chain{Name: name, Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: nftables.ChainPriorityRef(nftables.ChainPriority(prio))})
	}
	rule := func(ch *nftables.Chain, tag string, exprs ...expr.Any) {
		c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: exprs, UserData: []byte(tag)})
	}
	incoming := p.Dir != sim.Out
	firstIn := chain("first_prerouting", nftables.ChainHookPrerouting, math.MinInt32)
	firstOut := chain("first_output", nftables.ChainHookOutput, math.MinInt32)
	first := map[bool]*nftables.Chain{true: firstIn, false: firstOut}[incoming]
	if incoming {
		rule(firstIn, tagMarker, append(tuple(marker.Packet), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})...)
		if p.Mark != 0 {
			rule(firstIn, "", append(tuple(p.Packet), set32(p.Mark, &expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1})...)...)
		}
	}
	if notrack {
		rule(first, "", append(tuple(p.Packet), &expr.Notrack{})...)
	}
	for _, answer := range answers(p.Packet) {
		rule(firstOut, tagAnswered, append(answer, &expr.Counter{})...)
	}
	if p.CtMark != 0 && p.CtState == ir.CtNew {
		hook := map[bool]*nftables.ChainHook{true: nftables.ChainHookPrerouting, false: nftables.ChainHookOutput}[incoming]
		rule(chain("ctmark", hook, ctmarkPriority), "", append(tuple(p.Packet), set32(p.CtMark, &expr.Ct{Key: expr.CtKeyMARK, SourceRegister: true, Register: 1})...)...)
	}
	lastHook := nftables.ChainHookPostrouting
	if p.Dir == sim.In {
		lastHook = nftables.ChainHookInput
	}
	rule(chain("last", lastHook, math.MaxInt32), tagPassed, append(tuple(p.Packet), &expr.Counter{})...)
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
	chains, err := c.ListChainsOfTableFamily(table.Family)
	if err != nil {
		return nil, fmt.Errorf("reading the lab's counters: %w", err)
	}
	n := map[string]uint64{}
	for _, ch := range chains {
		if ch.Table.Name != table.Name {
			continue
		}
		rules, err := c.GetRules(table, ch)
		if err != nil {
			return nil, fmt.Errorf("reading the lab's counters: %w", err)
		}
		for _, r := range rules {
			for _, e := range r.Exprs {
				if ctr, ok := e.(*expr.Counter); ok {
					n[string(r.UserData)] += ctr.Packets
				}
			}
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

// answers match what the kernel sends back when a rule rejects p: an ICMP
// destination-unreachable to p's source, or a TCP reset.
func answers(p ir.Packet) [][]expr.Any {
	family, dst := byte(unix.NFPROTO_IPV4), uint32(16)
	icmp, unreachable := ir.ICMP, byte(3)
	if p.Family() == ir.IPv6 {
		family, dst, icmp, unreachable = unix.NFPROTO_IPV6, 24, ir.ICMPv6, 1
	}
	to := append(cmpMeta(expr.MetaKeyNFPROTO, family), cmpPayload(expr.PayloadBaseNetworkHeader, dst, p.Src.AsSlice())...)
	out := [][]expr.Any{append(append(to[:len(to):len(to)], cmpMeta(expr.MetaKeyL4PROTO, byte(icmp))...),
		cmpPayload(expr.PayloadBaseTransportHeader, 0, []byte{unreachable})...)}
	if p.Protocol == ir.TCP {
		reset := append(to[:len(to):len(to)], cmpMeta(expr.MetaKeyL4PROTO, byte(ir.TCP))...)
		reset = append(reset, cmpPayload(expr.PayloadBaseTransportHeader, 0, binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, p.Dport), p.Sport))...)
		out = append(out, reset)
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
