// Package soak measures a kill switch in motion: it floods a firewall
// namespace with packets that the policies forbid, and counts those that
// reach the far side while rulesets are replaced, rolled back and
// repaired. A transition is closed when that count stays 0.
//
// Three namespaces, joined to nothing of this machine:
//
//	lan (192.0.2.130, 2001:db8:1::2) ─ eth1  fw  eth0 ─ far (192.0.2.1, 2001:db8::1)
//
// fw holds the policy; its default routes lead to far. far owns the
// destinations: 203.0.113.9 and 2001:db8:ff::9 (forbidden by the test
// policies), 198.51.100.1 (a VPN server they allow). A counter in far's
// ingress counts what arrives, by destination and port, before far's own
// stack sees it.
package soak

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/lab/ns"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The lab's destinations beyond far: the policies of a soak forbid them,
// on DiscardPort always, on EchoPort where a transition closes a flow.
var (
	Forbidden4 = netip.MustParseAddrPort("203.0.113.9:9")
	Forbidden6 = netip.MustParseAddrPort("[2001:db8:ff::9]:9")
)

// Lab is three namespaces: FW between LAN and Far.
type Lab struct {
	FW, Far, LAN string
	receiver     *receiver
}

// New builds the lab; Close removes it, also after a failure.
func New() (l *Lab, err error) {
	l = &Lab{}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
			l = nil
		}
	}()
	spaces := map[string]*ns.Namespace{}
	for role, name := range map[string]*string{"soak-fw": &l.FW, "soak-far": &l.Far, "soak-lan": &l.LAN} {
		if spaces[role], err = ns.Create(role); err != nil {
			return l, err
		}
		*name = spaces[role].Name
	}
	if _, _, err := ns.Veth(spaces["soak-fw"], "eth0", nil, spaces["soak-far"], "p0"); err != nil {
		return l, err
	}
	if _, _, err := ns.Veth(spaces["soak-fw"], "eth1", nil, spaces["soak-lan"], "p1"); err != nil {
		return l, err
	}
	steps := [][]string{
		{"-n", l.FW, "addr", "add", "192.0.2.2/25", "dev", "eth0"},
		{"-n", l.FW, "addr", "add", "2001:db8::2/64", "dev", "eth0", "nodad"},
		{"-n", l.FW, "addr", "add", "192.0.2.129/25", "dev", "eth1"},
		{"-n", l.FW, "addr", "add", "2001:db8:1::1/64", "dev", "eth1", "nodad"},
		{"-n", l.Far, "addr", "add", "192.0.2.1/25", "dev", "p0"},
		{"-n", l.Far, "addr", "add", "2001:db8::1/64", "dev", "p0", "nodad"},
		{"-n", l.Far, "addr", "add", "203.0.113.9/32", "dev", "lo"},
		{"-n", l.Far, "addr", "add", "198.51.100.1/32", "dev", "lo"},
		{"-n", l.Far, "addr", "add", "2001:db8:ff::9/128", "dev", "lo", "nodad"},
		{"-n", l.LAN, "addr", "add", "192.0.2.130/25", "dev", "p1"},
		{"-n", l.LAN, "addr", "add", "2001:db8:1::2/64", "dev", "p1", "nodad"},
		{"-n", l.FW, "route", "add", "default", "via", "192.0.2.1"},
		{"-n", l.FW, "-6", "route", "add", "default", "via", "2001:db8::1"},
		{"-n", l.Far, "route", "add", "192.0.2.128/25", "via", "192.0.2.2"},
		{"-n", l.Far, "-6", "route", "add", "2001:db8:1::/64", "via", "2001:db8::2"},
		{"-n", l.LAN, "route", "add", "default", "via", "192.0.2.129"},
		{"-n", l.LAN, "-6", "route", "add", "default", "via", "2001:db8:1::1"},
	}
	for _, args := range steps {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return l, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	if err := l.sysctls(); err != nil {
		return l, err
	}
	if err := l.startCounting(); err != nil {
		return l, err
	}
	return l, l.startReceiving()
}

// sysctls make fw a router and let every namespace's addresses work at
// once; they are the namespaces' own, never this machine's.
func (l *Lab) sysctls() error {
	settings := map[string][]string{
		l.FW:  {"net/ipv4/conf/all/forwarding=1", "net/ipv6/conf/all/forwarding=1", "net/ipv4/conf/all/rp_filter=0"},
		l.Far: {"net/ipv4/conf/all/rp_filter=0"},
		l.LAN: {"net/ipv4/conf/all/rp_filter=0"},
	}
	for ns, keys := range settings {
		err := nsenter.Run(nsenter.Path(ns), func() error {
			for _, kv := range keys {
				k, v, _ := strings.Cut(kv, "=")
				if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(v), 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("sysctl in %s: %w", ns, err)
		}
	}
	return nil
}

// counting is far's counter table: what reaches far for the floods'
// destinations, counted in its ingress hook, before its own stack can
// lose any; the receiver's count must come to the same.
const counting = `table netdev soak {
	chain in {
		type filter hook ingress device "p0" priority -500; policy accept;
		ip daddr 203.0.113.9 udp dport 9 counter name "discard"
		ip6 daddr 2001:db8:ff::9 udp dport 9 counter name "discard"
		ip daddr 203.0.113.9 udp dport 7 counter name "echo"
	}
	counter discard { }
	counter echo { }
}
`

func (l *Lab) startCounting() error {
	cmd := exec.Command("ip", "netns", "exec", l.Far, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(counting)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("far's counters: %v: %s", err, out)
	}
	return nil
}

var counterLine = regexp.MustCompile(`counter (\w+) \{\s*packets (\d+) bytes`)

// Arrived is how many datagrams far's ingress counted since the lab
// began: "discard" to DiscardPort, "echo" to EchoPort.
func (l *Lab) Arrived() (map[string]uint64, error) {
	out, err := exec.Command("ip", "netns", "exec", l.Far, "nft", "list", "counters", "table", "netdev", "soak").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("reading far's counters: %v: %s", err, out)
	}
	counts := map[string]uint64{}
	for _, m := range counterLine.FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.ParseUint(m[2], 10, 64)
		counts[m[1]] = n
	}
	return counts, nil
}

// Close deletes the three namespaces and everything in them.
func (l *Lab) Close() error {
	if l.receiver != nil {
		l.receiver.stop()
	}
	var names []string
	for _, name := range []string{l.FW, l.Far, l.LAN} {
		if name != "" {
			names = append(names, name)
		}
	}
	return ns.Delete(names...)
}

// enter moves the calling goroutine's thread into the namespace for good:
// the thread stays locked, and the runtime drops it when the goroutine
// ends.
func enter(name string) error {
	runtime.LockOSThread()
	h, err := netns.GetFromName(name)
	if err != nil {
		return err
	}
	defer h.Close()
	return netns.Set(h)
}

// A Flood sends UDP datagrams at a steady rate from one socket, so that
// they make one flow as conntrack sees it.
type Flood struct {
	ID      uint32
	sent    atomic.Uint64
	refused atomic.Uint64 // by the sender's own OUTPUT chain
	stop    context.CancelFunc
	done    sync.WaitGroup
}

var floods atomic.Uint32

// Flood sends pps datagrams a second from namespace ns (l.FW or l.LAN) to
// dst until stopped. To EchoPort, far answers each, and the flow is
// established as soon as an answer gets back.
func (l *Lab) Flood(ns string, dst netip.AddrPort, pps int) (*Flood, error) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &Flood{ID: floods.Add(1), stop: cancel}
	ready := make(chan error, 1)
	f.done.Add(1)
	go func() {
		defer f.done.Done()
		err := enter(ns)
		fd := -1
		if err == nil {
			fd, err = udpSocket(dst)
		}
		ready <- err
		if err != nil {
			return
		}
		defer unix.Close(fd)
		f.send(ctx, fd, pps)
	}()
	if err := <-ready; err != nil {
		cancel()
		return nil, fmt.Errorf("flooding from %s: %w", ns, err)
	}
	return f, nil
}

func sockaddr(a netip.AddrPort) (family int, sa unix.Sockaddr) {
	if a.Addr().Is6() {
		return unix.AF_INET6, &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
	}
	return unix.AF_INET, &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
}

// udpSocket is a socket connected to dst, so that answers reach it.
func udpSocket(dst netip.AddrPort) (int, error) {
	family, to := sockaddr(dst)
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Connect(fd, to); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// send paces in slices of a fifth of a millisecond, each sending its
// share at once. Answers are read and thrown away, so that the socket's
// buffer never fills.
func (f *Flood) send(ctx context.Context, fd int, pps int) {
	buf := make([]byte, datagramSize)
	sink := make([]byte, 2048)
	start := time.Now()
	var n uint64
	for ctx.Err() == nil {
		due := uint64(time.Since(start).Seconds() * float64(pps))
		for ; n < due; n++ {
			stamp(buf, f.ID)
			switch _, err := unix.Write(fd, buf); {
			case err == nil:
				f.sent.Add(1)
			case errors.Is(err, unix.EPERM):
				f.refused.Add(1)
			}
		}
		for {
			if _, err := unix.Read(fd, sink); err != nil && !errors.Is(err, unix.ECONNREFUSED) {
				break
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// Stop ends the flood and reports how many datagrams left the socket and
// how many the sender's own firewall refused.
func (f *Flood) Stop() (sent, refused uint64) {
	f.stop()
	f.done.Wait()
	return f.sent.Load(), f.refused.Load()
}
