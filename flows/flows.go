// Package flows finds the connections conntrack already tracks that a
// policy would not let start, so that applying a kill switch can close
// them: a flow opened over eth0 before the kill switch would otherwise go
// on through its "ct state established accept" rule for as long as it
// lasts. The decision (Judge) is pure and reads the policy through the
// simulator; reading and deleting flows (Read, Close) is the kernel half.
package flows

import (
	"fmt"
	"net/netip"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/sim"
	"github.com/ti-mo/conntrack"
)

// Flow is a tracked connection and its first packet as the policy sees it.
type Flow struct {
	// First is the flow's first packet, original direction: its
	// interfaces are where the routes send it now. What conntrack does not
	// record (the sending socket's user, the packet's mark) takes the
	// simulator's defaults.
	First sim.Packet
	entry conntrack.Flow
}

func (f Flow) String() string {
	p := f.First
	ifs := orNoRoute(p.Oif)
	switch f.First.Dir {
	case sim.In:
		ifs = orNoRoute(p.Iif)
	case sim.Forward:
		ifs = orNoRoute(p.Iif) + " " + orNoRoute(p.Oif)
	}
	return fmt.Sprintf("%s %s %s %s %s", p.Dir, ifs, p.Protocol, endpoint(p.Src, p.Sport, p.Protocol), endpoint(p.Dst, p.Dport, p.Protocol))
}

func orNoRoute(iface string) string {
	if iface == "" {
		return "(no route)"
	}
	return iface
}

func endpoint(a netip.Addr, port uint16, proto ir.Protocol) string {
	if proto != ir.TCP && proto != ir.UDP {
		return a.String()
	}
	return netip.AddrPortFrom(a, port).String()
}

// Routes is what Read needs of a namespace besides its flows: its own
// addresses, and the interface a packet to an address leaves by.
type Routes interface {
	Local(a netip.Addr) bool
	Interface(to netip.Addr) string // "" when there is no route
}

// first builds a flow's first packet from its original tuple: a packet
// from a local address goes out, one to a local address comes in, and any
// other is forwarded. An incoming packet's interface is the one the route
// back to its source takes.
func first(e conntrack.Flow, routes Routes) (sim.Packet, bool) {
	t := e.TupleOrig
	src, dst := t.IP.SourceAddress.Unmap(), t.IP.DestinationAddress.Unmap()
	if !src.IsValid() || !dst.IsValid() {
		return sim.Packet{}, false
	}
	pkt := ir.Packet{Src: src, Dst: dst, Protocol: ir.Protocol(t.Proto.Protocol), CtMark: e.Mark}
	switch pkt.Protocol {
	case ir.TCP, ir.UDP:
		pkt.Sport, pkt.Dport = t.Proto.SourcePort, t.Proto.DestinationPort
	case ir.ICMP, ir.ICMPv6:
		pkt.ICMPType, pkt.ICMPCode = t.Proto.ICMPType, t.Proto.ICMPCode
	}
	dir := sim.Forward
	switch {
	case routes.Local(src):
		dir = sim.Out
		pkt.Oif = routes.Interface(dst)
	case routes.Local(dst):
		dir = sim.In
		pkt.Iif = routes.Interface(src)
	default:
		pkt.Iif, pkt.Oif = routes.Interface(src), routes.Interface(dst)
	}
	return sim.FirstPacket(dir, pkt), true
}
