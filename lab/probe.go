package lab

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/sim"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Outcome is what the kernel did with a probe.
type Outcome struct {
	Verdict ir.Verdict
	// Answer is what the kernel answered a rejected probe with, as
	// ir.RejectWith.InFamily writes it.
	Answer ir.RejectWith
	// Silent is set when the kernel answers nothing to this packet even
	// when a rule rejects it (an ICMP error, a broadcast, a reset): a
	// reject then looks like a drop.
	Silent bool
}

// Matches reports whether the outcome is v: a silent probe cannot tell
// reject from drop.
func (o Outcome) Matches(v ir.Verdict) bool {
	if o.Silent && o.Verdict != ir.Accept {
		return v == ir.Drop || v == ir.Reject
	}
	return o.Verdict == v
}

// Unsupported is a packet line the lab cannot make as a real packet.
type Unsupported struct{ Reason string }

func (u *Unsupported) Error() string { return "the lab cannot send this packet: " + u.Reason }

// markerWait bounds the wait for an arriving probe's marker: it comes in
// microseconds unless something is wrong with the lab.
const markerWait = 2 * time.Second

// Run sends p through the loaded policy and reports what happened to it.
// rewritten is p as the policy's nat rules leave it (sim.Evaluate's
// Final): the lab routes its destination too, and sends to it only if it
// is an address the lab may send to. Probes run one at a time.
func (l *Lab) Run(p, rewritten sim.Packet) (o Outcome, err error) {
	plan, err := planFor(p)
	if err != nil {
		return Outcome{}, err
	}
	for _, a := range []netip.Addr{rewritten.Src, rewritten.Dst} {
		if !labAddress(a) {
			return Outcome{}, &Unsupported{fmt.Sprintf("the policy rewrites the packet to %s, which is not a documentation, link-local, unique-local, multicast or broadcast address; the lab sends to no other (set the policy's addresses with -D on a with line)", a)}
		}
	}
	for _, name := range []string{p.Iif, p.Oif} {
		if _, ok := l.links[name]; name != "" && name != "lo" && !ok {
			return Outcome{}, fmt.Errorf("the lab has no interface %s", name)
		}
	}
	undo, err := l.route(p, rewritten.Dst)
	defer func() { err = errors.Join(err, undo()) }()
	if err != nil {
		return Outcome{}, err
	}
	ungroup, err := l.group(p)
	defer func() { err = errors.Join(err, ungroup()) }()
	if err != nil {
		return Outcome{}, err
	}
	if err := l.track(p); err != nil {
		return Outcome{}, err
	}
	if err := l.observe(p, plan.notrack); err != nil {
		return Outcome{}, err
	}
	data := p.Wire()
	var n map[string]uint64
	if p.Dir == sim.Out {
		if err := l.sendOut(p, data); err != nil {
			return Outcome{}, err
		}
		n, err = l.counts()
	} else {
		n, err = l.sendIn(p, data)
	}
	if err != nil {
		return Outcome{}, err
	}
	o = Outcome{Verdict: ir.Drop, Silent: plan.silent}
	switch {
	case n[tagPassed] > 0:
		o.Verdict = ir.Accept
	case n[tagAnswered] > 0:
		o.Verdict = ir.Reject
		for _, a := range answers(p.Packet) {
			if n[a.tag()] > 0 {
				o.Answer = a.with
			}
		}
	}
	return o, nil
}

// TCP flag bits, as on the wire.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

// plan is how the lab makes a packet line's packet.
type plan struct {
	notrack bool // untracked by the lab's rule, not by conntrack's own choice
	silent  bool
}

// planFor checks that the lab can make p, and says how.
func planFor(p sim.Packet) (plan, error) {
	unsupported := func(format string, args ...any) (plan, error) {
		return plan{}, &Unsupported{fmt.Sprintf(format, args...)}
	}
	for _, a := range []netip.Addr{p.Src, p.Dst} {
		if !labAddress(a) {
			return unsupported("%s is not a documentation, link-local, unique-local, multicast or broadcast address; the lab sends to no other (set the policy's addresses with -D on a with line)", a)
		}
	}
	var pl plan
	pl.silent = p.IsICMPError() || p.Dst.IsMulticast() || isBroadcast(p.Dst) || p.Src.IsUnspecified() ||
		p.Protocol == ir.TCP && p.TCPFlags&tcpRST != 0
	if p.Dir != sim.Out && martian(p) {
		return unsupported("the kernel drops a packet from %s to %s at routing, before the input and forward hooks (a martian source)", p.Src, p.Dst)
	}
	switch p.Dir {
	case sim.Out:
		if p.Pkttype != 0 {
			return unsupported("every packet this machine sends is pkttype host")
		}
	case sim.Forward:
		if p.Iif == "lo" || p.Oif == "lo" {
			return unsupported("the kernel forwards no packet from or to lo")
		}
		if p.Src == routerAddress(p.Dst) || p.Dst == routerAddress(p.Dst) {
			return unsupported("%s is the lab's own address on the way out of a forwarded packet", routerAddress(p.Dst))
		}
		if p.Pkttype != 0 || p.Dst.IsMulticast() || isBroadcast(p.Dst) || p.Dst.IsLinkLocalUnicast() || p.Src.IsLinkLocalUnicast() || !p.Src.IsGlobalUnicast() && !p.Src.IsPrivate() {
			return unsupported("no kernel forwards a packet from or to a link-local, multicast or broadcast address")
		}
	}
	if p.CtStatus != sim.NaturalCtStatus(p.Packet) {
		return unsupported("the lab's connections have status %s (new: none yet)", ir.KindCtStatus.NameOf(sim.NaturalCtStatus(p.Packet)))
	}
	if p.Priority != 0 && p.Dir != sim.Out {
		return unsupported("a packet that arrives has priority 0: only a local socket gives one (SO_PRIORITY)")
	}
	if p.Pkttype == 3 {
		return unsupported("the kernel drops a packet for another host (pkttype other) before any rule")
	}
	natural := sim.InitialState(p.Packet)
	flags := p.TCPFlags & (tcpSYN | tcpACK | tcpRST | tcpFIN)
	switch p.CtState {
	case ir.CtNew:
		switch {
		case p.Protocol == ir.TCP && flags != tcpSYN:
			return unsupported("conntrack starts a TCP flow only with a SYN alone")
		case natural != ir.CtNew:
			return unsupported("conntrack calls this packet %s without a flow before it", natural)
		}
	case ir.CtEstablished:
		_, reply := p.ICMPQuery()
		_, query := ir.ICMPReplies[p.Protocol][p.ICMPType]
		switch {
		case p.Protocol == ir.TCP && flags&tcpSYN != 0:
			return unsupported("an established TCP probe has no SYN")
		case !p.Protocol.HasPorts() && !reply && !query:
			return unsupported("the lab makes established ICMP packets only of queries and their replies")
		case !p.Protocol.HasPorts() && p.Reply != reply:
			return unsupported("an ICMP query goes its flow's original way, its reply the reply way")
		}
	case ir.CtRelated:
		switch {
		case !p.IsICMPError():
			return unsupported("the lab makes related packets only as ICMP errors about a flow")
		case !p.Reply:
			return unsupported("the lab makes related packets as errors about a flow their receiver began: they go its reply way")
		}
	case ir.CtInvalid:
		switch {
		case p.Protocol == ir.TCP && flags&tcpSYN != 0:
			return unsupported("an invalid TCP probe is one without SYN and without a flow")
		case p.Protocol == ir.UDP && p.Dir == sim.Out:
			return unsupported("conntrack checks checksums only of arriving packets, so the lab cannot make a UDP packet sent here invalid")
		case p.Protocol == ir.UDP:
			// ir.Packet.Wire spoils its checksum.
		case !p.Protocol.HasPorts() && natural != ir.CtInvalid:
			return unsupported("conntrack calls this packet %s without a flow before it", natural)
		}
	case ir.CtUntracked:
		pl.notrack = natural != ir.CtUntracked
	}
	if p.CtMark != 0 && (p.CtState == ir.CtInvalid || p.CtState == ir.CtUntracked) {
		return unsupported("a %s packet has no flow, so no conntrack mark", p.CtState)
	}
	return pl, nil
}

// martian reports an arriving packet whose source routing refuses: a
// multicast or broadcast source, or 0.0.0.0 but to the broadcast address
// (a DHCP client's), as ip_route_input_slow and ip6_rcv_core do.
func martian(p sim.Packet) bool {
	switch {
	case p.Src.IsMulticast(), isBroadcast(p.Src):
		return true
	case p.Src.Is4() && p.Src.IsUnspecified():
		return !isBroadcast(p.Dst)
	}
	return false
}

// documentation and the other ranges the lab sends to: none routes to a
// real host.
var labRanges = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("fc00::/7"), netip.MustParsePrefix("224.0.0.0/4"), netip.MustParsePrefix("ff00::/8"),
}

func labAddress(a netip.Addr) bool {
	if a.IsUnspecified() || isBroadcast(a) {
		return true
	}
	for _, r := range labRanges {
		if r.Contains(a) {
			return true
		}
	}
	return false
}

func isBroadcast(a netip.Addr) bool { return a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) }

// route gives the firewall what p needs: its local address, a route to
// where it goes (by the interface the line names), a route back for a
// rejection's answer, a multicast group joined. undo takes it all away.
func (l *Lab) route(p sim.Packet, rewrittenDst netip.Addr) (undo func() error, err error) {
	var undos []func() error
	undo = func() error { return undoAll(undos) }
	index := func(name string) int {
		if name == "lo" {
			return 1
		}
		return l.links[name].fwIndex
	}
	addAddr := func(a netip.Addr, dev string) error {
		if !a.IsGlobalUnicast() && !a.IsLinkLocalUnicast() && !a.IsPrivate() {
			return nil
		}
		addr := &netlink.Addr{IPNet: hostNet(a), Flags: unix.IFA_F_NODAD}
		ln := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: index(dev)}}
		err := l.fw.AddrAdd(ln, addr)
		if errors.Is(err, unix.EEXIST) {
			return nil // already there, and stays
		}
		if err != nil {
			return fmt.Errorf("lab address %s on %s: %w", a, dev, err)
		}
		undos = append(undos, func() error {
			if err := l.fw.AddrDel(ln, addr); err != nil {
				return fmt.Errorf("removing the lab address %s: %w", a, err)
			}
			return nil
		})
		return l.waitLocal(a)
	}
	addRoute := func(a netip.Addr, dev string) error {
		if !a.IsGlobalUnicast() && !a.IsPrivate() || dev == "lo" {
			return nil // link-local, multicast and broadcast need only the interface
		}
		return l.addRouteTo(a, index(dev), &undos)
	}
	if rewrittenDst != p.Dst && p.Dir != sim.In {
		// dnat sends it elsewhere, still by the interface the line names.
		err = addRoute(rewrittenDst, p.Oif)
	}
	switch p.Dir {
	case sim.Out:
		err = errors.Join(err, addAddr(p.Src, p.Oif), addRoute(p.Dst, p.Oif))
		if p.Oif == "lo" && p.Dst != p.Src {
			err = errors.Join(err, addAddr(p.Dst, "lo")) // out over lo is to this machine
		}
	case sim.In:
		err = errors.Join(err, addRoute(p.Src, l.routeBack(p)))
		if p.RouteFree() && p.DstRouted {
			// "route exists": a route covers the broadcast or multicast
			// destination, as a default route would.
			err = errors.Join(err, l.addRouteTo(p.Dst, index(p.Iif), &undos))
		}
		if err == nil && p.Dst.IsMulticast() {
			var leave func() error
			leave, err = l.join(p.Dst, index(p.Iif))
			undos = append(undos, leave)
		} else if err == nil {
			err = addAddr(p.Dst, l.dstInterface(p))
		}
	case sim.Forward:
		// Masquerade takes the address of the interface a packet leaves
		// by, and drops the packet when there is none.
		err = errors.Join(err, addRoute(p.Src, l.routeBack(p)), addRoute(p.Dst, p.Oif), addAddr(routerAddress(p.Dst), p.Oif))
	}
	return undo, err
}

// addRouteTo routes a out of the interface of index, whatever a is (a
// broadcast or multicast address too), until undone. Deleting a
// device's last IPv4 address takes its routes: one gone is no error.
func (l *Lab) addRouteTo(a netip.Addr, index int, undos *[]func() error) error {
	r := &netlink.Route{LinkIndex: index, Dst: hostNet(a), Scope: netlink.SCOPE_LINK}
	if err := l.fw.RouteReplace(r); err != nil {
		return fmt.Errorf("lab route to %s: %w", a, err)
	}
	*undos = append(*undos, func() error {
		if err := l.fw.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("removing the lab route to %s: %w", a, err)
		}
		return nil
	})
	return nil
}

// dstInterface is the interface the firewall has an arriving packet's
// destination address on: the one it comes in by, or for "iifaddr
// unicast" another of the lab's (lo when it comes in by a link).
func (l *Lab) dstInterface(p sim.Packet) string {
	switch {
	case !p.DstElsewhere:
		return p.Iif
	case p.Iif != "lo":
		return "lo"
	}
	return slices.Sorted(maps.Keys(l.links))[0] // the lab has a link for every line
}

// routeBack is the interface the firewall routes the packet's source
// by: the one it came in by, or for a spoofed source ("rpf missing")
// another of the lab's, or none ("lo" adds no route).
func (l *Lab) routeBack(p sim.Packet) string {
	if !p.NoRouteBack {
		return p.Iif
	}
	for _, name := range slices.Sorted(maps.Keys(l.links)) {
		if name != p.Iif {
			return name
		}
	}
	return "lo"
}

// group puts the probe's interfaces in the groups its line gives
// ("iifgroup 11"), and returns how to put them back in the default one.
func (l *Lab) group(p sim.Packet) (undo func() error, err error) {
	var undos []func() error
	undo = func() error { return undoAll(undos) }
	for _, g := range []struct {
		dev   string
		group uint32
	}{{p.Iif, p.IifGroup}, {p.Oif, p.OifGroup}} {
		if g.group == 0 {
			continue
		}
		index := 1 // lo
		if g.dev != "lo" {
			index = l.links[g.dev].fwIndex
		}
		ln := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: index}}
		if err := l.fw.LinkSetGroup(ln, int(g.group)); err != nil {
			return undo, fmt.Errorf("lab group %d on %s: %w", g.group, g.dev, err)
		}
		undos = append(undos, func() error { return l.fw.LinkSetGroup(ln, 0) })
	}
	return undo, nil
}

// undoAll undoes what a probe's set-up did, last first.
func undoAll(undos []func() error) error {
	var errs []error
	for i := len(undos) - 1; i >= 0; i-- {
		errs = append(errs, undos[i]())
	}
	return errors.Join(errs...)
}

// routerAddress is the firewall's own address on the way out of a
// forwarded probe, of its family: for masquerade.
func routerAddress(dst netip.Addr) netip.Addr {
	if dst.Is4() {
		return netip.MustParseAddr("203.0.113.254")
	}
	return netip.MustParseAddr("2001:db8:ffff::fe")
}

func hostNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

// join makes the firewall a member of group on interface index, so that
// the group's packets are delivered to it, until leave.
func (l *Lab) join(group netip.Addr, index int) (leave func() error, err error) {
	fd := -1
	err = nsenter.Run(l.Path(), func() error {
		domain := unix.AF_INET
		if group.Is6() {
			domain = unix.AF_INET6
		}
		var err error
		if fd, err = unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		if group.Is4() {
			return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, &unix.IPMreqn{Multiaddr: group.As4(), Ifindex: int32(index)})
		}
		return unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, &unix.IPv6Mreq{Multiaddr: group.As16(), Interface: uint32(index)})
	})
	leave = func() error {
		if fd >= 0 {
			return unix.Close(fd)
		}
		return nil
	}
	if err != nil {
		return leave, fmt.Errorf("joining %s: %w", group, err)
	}
	return leave, nil
}

// waitLocal waits until the firewall takes a, an address just added, as
// its own. An IPv4 address is at once; an IPv6 address only once a
// kernel work item has finished its (skipped) duplicate detection and put
// in its local route: a probe sent before then is not the firewall's and
// was judged dropped, now and then, on a busy machine.
func (l *Lab) waitLocal(a netip.Addr) error {
	if a.Is4() {
		return nil
	}
	for deadline := time.Now().Add(markerWait); ; time.Sleep(time.Millisecond) {
		routes, err := l.fw.RouteGet(a.AsSlice())
		if err == nil && len(routes) > 0 && routes[0].Type == unix.RTN_LOCAL {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the lab address %s was not local within %s", a, markerWait)
		}
	}
}
