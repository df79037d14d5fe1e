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
// addresses, its sockets, and where its routing (ip rules included) sends
// a packet.
type Routes interface {
	Local(a netip.Addr) bool
	// Socket is the local socket of a flow, when there is one.
	Socket(proto uint8, local, remote netip.AddrPort) (uid, mark uint32, ok bool)
	// Out is the interface a packet from src to dst, with the mark, from
	// a socket of the owner (nil: unknown), leaves by; "" when no route.
	Out(src, dst netip.Addr, mark uint32, uid *uint32) string
	// Forward is the interface a packet from src to dst that came in by
	// iif leaves by.
	Forward(iif string, src, dst netip.Addr) string
}

// first builds a flow's first packet from its original tuple, routed as
// the kernel would route it now: by its source, its socket's mark and
// owner, and for a forwarded one its input interface, so that the ip
// rules of a VPN client (from the physical interface's address, by mark)
// are followed. A packet from a local address goes out; one to a local
// address comes in, by the interface the replies to it leave by; any
// other is forwarded, in by the interface its source is reached by.
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
	from, to := netip.AddrPortFrom(src, pkt.Sport), netip.AddrPortFrom(dst, pkt.Dport)
	dir := sim.Forward
	switch {
	case routes.Local(src):
		dir = sim.Out
		var owner *uint32
		if uid, mark, ok := routes.Socket(uint8(pkt.Protocol), from, to); ok {
			pkt.UID, pkt.Mark, owner = uid, mark, &uid
		}
		pkt.Oif = routes.Out(src, dst, pkt.Mark, owner)
	case routes.Local(dst):
		dir = sim.In
		// The replies' way back, from the address the flow came to, with
		// its socket's mark and owner: what reverse-path filtering takes
		// for the way in.
		var mark uint32
		var owner *uint32
		if uid, m, ok := routes.Socket(uint8(pkt.Protocol), to, from); ok {
			mark, owner = m, &uid
		}
		pkt.Iif = routes.Out(dst, src, mark, owner)
	default:
		pkt.Iif = routes.Out(netip.Addr{}, src, 0, nil)
		pkt.Oif = routes.Forward(pkt.Iif, src, dst)
	}
	return sim.FirstPacket(dir, pkt), true
}
