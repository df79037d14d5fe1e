package lab

import (
	"fmt"
	"net/netip"

	"github.com/ksc-project/ksc/flows"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/sim"
	"github.com/ti-mo/conntrack"
)

// tcpEstablished is conntrack's TCP_CONNTRACK_ESTABLISHED.
const tcpEstablished = 3

// track empties conntrack and puts in the flow that makes p established
// or related: each probe starts from a conntrack that knows nothing else,
// so that an earlier probe cannot make a later one established.
func (l *Lab) track(p sim.Packet) error {
	ct, err := flows.Conntrack(l.Path())
	if err != nil {
		return err
	}
	defer ct.Close()
	if err := ct.Flush(); err != nil {
		return fmt.Errorf("emptying conntrack: %w", err)
	}
	// Settings of conntrack exist once its module is loaded, which
	// dialling it does.
	if err := nsenter.Run(l.Path(), func() error { return write(conntrackSettings) }); err != nil {
		return err
	}
	var flow conntrack.Flow
	switch p.CtState {
	case ir.CtEstablished:
		flow = established(p.Packet)
	case ir.CtRelated:
		// The flow the ICMP error reports: from its destination to its
		// source (see wire).
		flow = conntrack.NewFlow(uint8(ir.UDP), conntrack.StatusConfirmed|conntrack.StatusSeenReply|conntrack.StatusAssured, p.Dst, p.Src, ir.ICMPErrorInnerSport, ir.ICMPErrorInnerDport, 60, p.CtMark)
	default:
		return nil
	}
	if err := ct.Create(flow); err != nil {
		return fmt.Errorf("putting the probe's flow into conntrack: %w", err)
	}
	return nil
}

// established is a flow whose original or reply direction is p, that has
// seen both.
func established(p ir.Packet) conntrack.Flow {
	status := conntrack.StatusConfirmed | conntrack.StatusSeenReply | conntrack.StatusAssured
	if p.Protocol.HasPorts() {
		f := conntrack.NewFlow(uint8(p.Protocol), status, p.Src, p.Dst, p.Sport, p.Dport, 60, p.CtMark)
		if p.Reply {
			// p answers a flow its destination began.
			f = conntrack.NewFlow(uint8(p.Protocol), status, p.Dst, p.Src, p.Dport, p.Sport, 60, p.CtMark)
		}
		if p.Protocol == ir.TCP {
			f.ProtoInfo.TCP = &conntrack.ProtoInfoTCP{State: tcpEstablished}
		}
		return f
	}
	orig, reply := p.Src, p.Dst
	query, answer := p.ICMPType, ir.ICMPReplies[p.Protocol][p.ICMPType]
	if q, ok := p.ICMPQuery(); ok {
		// p answers a query from its destination.
		orig, reply, query, answer = p.Dst, p.Src, q, p.ICMPType
	}
	f := conntrack.Flow{Status: status, Timeout: 60, Mark: p.CtMark}
	f.TupleOrig = icmpTuple(p.Protocol, orig, reply, query)
	f.TupleReply = icmpTuple(p.Protocol, reply, orig, answer)
	return f
}

func icmpTuple(proto ir.Protocol, src, dst netip.Addr, typ uint8) conntrack.Tuple {
	var t conntrack.Tuple
	t.IP.SourceAddress, t.IP.DestinationAddress = src, dst
	t.Proto = conntrack.ProtoTuple{Protocol: uint8(proto), ICMPv4: proto == ir.ICMP, ICMPv6: proto == ir.ICMPv6, ICMPID: icmpID, ICMPType: typ}
	return t
}

// icmpID is the identifier of every ICMP query and reply the lab sends
// (bytes 4 and 5 of the message, see transport).
const icmpID = 0x6b73
