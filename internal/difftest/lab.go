package difftest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
)

// Lab is a firewall namespace and a peer namespace joined by two veth
// pairs. The firewall owns FW4/FW6 and the peer Peer4/Peer6 through local
// routes; the lower half of the peer's pool is routed over the first pair
// (eth0 on the firewall) and the upper half over the second (wg0), both
// ways, so that a probe's peer address decides its interface.
type Lab struct {
	FW, Peer *labtest.NS

	mu        sync.Mutex
	listening map[string]bool
	closers   []io.Closer
}

// NewLab builds a lab; it is deleted when the test ends.
func NewLab(t testing.TB) *Lab {
	t.Helper()
	l := &Lab{FW: labtest.NewNS(t, "fw"), Peer: labtest.NewNS(t, "peer")}
	for _, ns := range []*labtest.NS{l.FW, l.Peer} {
		// Senders bind any address of their pool; the firewall answers
		// every rejected probe at once, so ICMP errors are not rate-limited;
		// no address waits for duplicate detection before the first probe.
		ns.Exec(t, "sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1", "net.ipv6.ip_nonlocal_bind=1",
			"net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0", "net.ipv4.icmp_msgs_per_sec=100000", "net.ipv4.icmp_msgs_burst=100000",
			"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
			"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	}
	labtest.Veth(t, l.FW, Interfaces[0], l.Peer, "p0")
	labtest.Veth(t, l.FW, Interfaces[1], l.Peer, "p1")
	links := []struct{ fw4, peer4, fw6, peer6 string }{
		{"203.0.113.1", "203.0.113.2", "2001:db8:e0::1", "2001:db8:e0::2"},
		{"203.0.113.5", "203.0.113.6", "2001:db8:e1::1", "2001:db8:e1::2"},
	}
	for i, ln := range links {
		peerDev := fmt.Sprintf("p%d", i)
		// Rules may reject ICMPv6 too, neighbour discovery included:
		// fixed link addresses and permanent neighbours keep the links up.
		fwMAC, peerMAC := fmt.Sprintf("02:00:00:00:0%d:01", i), fmt.Sprintf("02:00:00:00:0%d:02", i)
		l.FW.Exec(t, "ip", "link", "set", "dev", Interfaces[i], "address", fwMAC)
		l.Peer.Exec(t, "ip", "link", "set", "dev", peerDev, "address", peerMAC)
		l.FW.Exec(t, "ip", "-6", "neigh", "replace", ln.peer6, "lladdr", peerMAC, "dev", Interfaces[i], "nud", "permanent")
		l.Peer.Exec(t, "ip", "-6", "neigh", "replace", ln.fw6, "lladdr", fwMAC, "dev", peerDev, "nud", "permanent")
		l.FW.Exec(t, "ip", "addr", "add", ln.fw4+"/30", "dev", Interfaces[i])
		l.FW.Exec(t, "ip", "addr", "add", ln.fw6+"/64", "dev", Interfaces[i], "nodad")
		l.Peer.Exec(t, "ip", "addr", "add", ln.peer4+"/30", "dev", peerDev)
		l.Peer.Exec(t, "ip", "addr", "add", ln.peer6+"/64", "dev", peerDev, "nodad")
		// The firewall reaches each half of the peer's pool over its own link.
		l.FW.Exec(t, "ip", "route", "add", half(Peer4, i).String(), "via", ln.peer4, "dev", Interfaces[i])
		l.FW.Exec(t, "ip", "-6", "route", "add", half(Peer6, i).String(), "via", ln.peer6, "dev", Interfaces[i])
		// The peer answers from each half over the same link: by source.
		table := fmt.Sprint(100 + i)
		l.Peer.Exec(t, "ip", "rule", "add", "from", half(Peer4, i).String(), "table", table)
		l.Peer.Exec(t, "ip", "-6", "rule", "add", "from", half(Peer6, i).String(), "table", table)
		l.Peer.Exec(t, "ip", "route", "add", FW4.String(), "via", ln.fw4, "dev", peerDev, "table", table)
		l.Peer.Exec(t, "ip", "-6", "route", "add", FW6.String(), "via", ln.fw6, "dev", peerDev, "table", table)
	}
	for ns, pools := range map[*labtest.NS][2]netip.Prefix{l.FW: {FW4, FW6}, l.Peer: {Peer4, Peer6}} {
		ns.Exec(t, "ip", "route", "add", "local", pools[0].String(), "dev", "lo")
		ns.Exec(t, "ip", "-6", "route", "add", "local", pools[1].String(), "dev", "lo")
	}
	t.Cleanup(l.closeListeners)
	return l
}

// closeListeners closes every listener; the next probe opens those it
// needs. Kept for the whole lab, a run of a few hundred cases held a
// socket for each address and port any of them used, and ran out of
// file descriptors.
func (l *Lab) closeListeners() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.closers {
		c.Close()
	}
	l.closers, l.listening = nil, nil
}

// half is the lower (0) or upper (1) half of a pool.
func half(p netip.Prefix, i int) netip.Prefix {
	h := netip.PrefixFrom(p.Addr(), p.Bits()+1)
	if i == 1 {
		h = netip.PrefixFrom(offset(p, 1<<(p.Addr().BitLen()-p.Bits()-1)), p.Bits()+1)
	}
	return h
}

// wait bounds how long a probe waits for an answer that comes at once
// when a packet passes (a reply) or is rejected in input (ECONNREFUSED)
// or dropped in output (EPERM): only a lost packet waits this long.
const wait = 3 * time.Second

// synWait is how long a TCP probe in output waits for its connection: the
// kernel retransmits a SYN that the output chain dropped instead of failing
// the connect, so a drop shows as silence. Passed SYNs are answered over a
// veth in microseconds.
const synWait = 500 * time.Millisecond

// Run sends a probe through the case's chain and reports what the sender
// saw. Probes of one case may run concurrently: each is its own flow.
func (l *Lab) Run(hook ir.Hook, pr Probe) (Outcome, error) {
	from, to := l.Peer, l.FW
	if hook == ir.HookOutput {
		from, to = l.FW, l.Peer
	}
	p := pr.Packet
	if p.Protocol == ir.ICMP || p.Protocol == ir.ICMPv6 {
		return runICMP(from, p)
	}
	src := netip.AddrPortFrom(p.Src, p.Sport)
	dst := netip.AddrPortFrom(p.Dst, p.Dport)
	if err := l.listen(to, p.Protocol, dst); err != nil {
		return "", err
	}
	control := marked(p)
	if p.Protocol == ir.TCP {
		return runTCP(from, src, dst, hook == ir.HookOutput, control)
	}
	return runUDP(from, src, dst, pr.Established, control)
}

// runICMP sends one ICMP message of the probe's type and code from a raw
// socket: an output drop fails the send with EPERM at once, and nothing
// needs to answer.
func runICMP(from *labtest.NS, p ir.Packet) (Outcome, error) {
	network := "ip4:icmp"
	if p.Protocol == ir.ICMPv6 {
		network = "ip6:ipv6-icmp" // the kernel writes the ICMPv6 checksum
	}
	var outcome Outcome
	err := from.Do(func() error {
		lc := net.ListenConfig{Control: marked(p)}
		c, err := lc.ListenPacket(context.Background(), network, p.Src.String())
		if err != nil {
			return err
		}
		defer c.Close()
		msg := []byte{p.ICMPType, p.ICMPCode, 0, 0, 0, 1, 0, 1, 'k', 's', 'c'}
		if p.Protocol == ir.ICMP {
			binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
		}
		_, err = c.WriteTo(msg, &net.IPAddr{IP: p.Dst.AsSlice()})
		switch {
		case err == nil:
			outcome = Passed
		case errors.Is(err, syscall.EPERM):
			outcome = BlockedNew
		default:
			return fmt.Errorf("icmp %s -> %s: %w", p.Src, p.Dst, err)
		}
		return nil
	})
	return outcome, err
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// marked sets a socket's firewall mark (SO_MARK), hop limit and DSCP to
// the probe's, along with SO_REUSEADDR.
func marked(p ir.Packet) func(_, _ string, c syscall.RawConn) error {
	level, option, class := syscall.IPPROTO_IP, syscall.IP_TTL, syscall.IP_TOS
	if p.Src.Is6() {
		level, option, class = syscall.IPPROTO_IPV6, syscall.IPV6_UNICAST_HOPS, syscall.IPV6_TCLASS
	}
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = errors.Join(syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1),
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK, int(p.Mark)),
				syscall.SetsockoptInt(int(fd), level, option, int(p.Hops())),
				syscall.SetsockoptInt(int(fd), level, class, int(p.DSCP)<<2))
		})
		return errors.Join(err, serr)
	}
}

// listen makes sure something in ns answers at dst: an echo for UDP, an
// accepting socket for TCP. Listeners live until the case ends.
func (l *Lab) listen(ns *labtest.NS, proto ir.Protocol, dst netip.AddrPort) error {
	key := ns.Name + " " + proto.String() + " " + dst.String()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.listening[key] {
		return nil
	}
	var closer io.Closer
	err := ns.Do(func() error {
		if proto == ir.TCP {
			ln, err := listenConfig().Listen(context.Background(), "tcp", dst.String())
			if err == nil {
				go accept(ln)
				closer = ln
			}
			return err
		}
		pc, err := listenConfig().ListenPacket(context.Background(), "udp", dst.String())
		if err == nil {
			go echo(pc)
			closer = pc
		}
		return err
	})
	if err != nil {
		return err
	}
	if l.listening == nil {
		l.listening = map[string]bool{}
	}
	l.listening[key] = true
	l.closers = append(l.closers, closer)
	return nil
}

func accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			// The client resets the connection; reading until then keeps
			// this side out of TIME_WAIT.
			c.SetDeadline(time.Now().Add(wait))
			c.Read(make([]byte, 1))
			c.Close()
		}()
	}
}

func echo(pc net.PacketConn) {
	buf := make([]byte, 64)
	for {
		n, peer, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(buf[:n], peer)
	}
}

func runTCP(from *labtest.NS, src, dst netip.AddrPort, output bool, control func(_, _ string, c syscall.RawConn) error) (Outcome, error) {
	var outcome Outcome
	err := from.Do(func() error {
		timeout := wait
		if output {
			timeout = synWait
		}
		d := net.Dialer{Timeout: timeout, LocalAddr: net.TCPAddrFromAddrPort(src), Control: control}
		c, err := d.Dial("tcp", dst.String())
		var ne net.Error
		switch {
		case err == nil:
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			outcome = Passed
		case blocked(err):
			outcome = BlockedNew
		case output && errors.As(err, &ne) && ne.Timeout():
			outcome = BlockedNew
		default:
			return fmt.Errorf("tcp %s -> %s: %w", src, dst, err)
		}
		return nil
	})
	return outcome, err
}

func runUDP(from *labtest.NS, src, dst netip.AddrPort, established bool, control func(_, _ string, c syscall.RawConn) error) (Outcome, error) {
	var conn *net.UDPConn
	if err := from.Do(func() (err error) {
		d := net.Dialer{LocalAddr: net.UDPAddrFromAddrPort(src), Control: control}
		c, err := d.Dial("udp", dst.String())
		if err == nil {
			conn = c.(*net.UDPConn)
		}
		return err
	}); err != nil {
		return "", err
	}
	defer conn.Close()
	exchange := func() (bool, error) {
		if _, err := conn.Write([]byte("probe")); err != nil {
			if errors.Is(err, syscall.EPERM) {
				return false, nil
			}
			return false, err
		}
		conn.SetReadDeadline(time.Now().Add(wait))
		_, err := conn.Read(make([]byte, 64))
		switch {
		case err == nil:
			return true, nil
		case blocked(err):
			return false, nil
		default:
			return false, fmt.Errorf("udp %s -> %s: %w", src, dst, err)
		}
	}
	ok, err := exchange()
	if err != nil || !ok {
		return BlockedNew, err
	}
	if !established {
		return Passed, nil
	}
	if ok, err = exchange(); err != nil || !ok {
		return BlockedEstablished, err
	}
	return Passed, nil
}

// blocked reports the errors a sender sees when its packet was dropped on
// the way out (EPERM), reset (a TCP reset to the SYN, or to the
// handshake's ACK: ECONNRESET), or answered with an ICMP error.
func blocked(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EPERM, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EACCES} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

func listenConfig() *net.ListenConfig { return &net.ListenConfig{Control: reuse} }

// reuse lets probes reuse a source port at once.
func reuse(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	return errors.Join(err, serr)
}
