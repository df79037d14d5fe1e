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
	"crypto/rand"
	"encoding/hex"
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
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The lab's addresses.
var (
	Forbidden4 = netip.MustParseAddrPort("203.0.113.9:9")
	Forbidden6 = netip.MustParseAddrPort("[2001:db8:ff::9]:9")
	VPNServer  = netip.MustParseAddrPort("198.51.100.1:1194")
	FWAddr4    = netip.MustParseAddr("192.0.2.2")
	LANAddr4   = netip.MustParseAddr("192.0.2.130")
)

// Lab is three namespaces: FW between LAN and Far.
type Lab struct {
	FW, Far, LAN string
}

// New builds the lab; Close removes it, also after a failure.
func New() (l *Lab, err error) {
	id := make([]byte, 4)
	rand.Read(id)
	s := hex.EncodeToString(id)
	l = &Lab{FW: "ksc-soak-fw-" + s, Far: "ksc-soak-far-" + s, LAN: "ksc-soak-lan-" + s}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
			l = nil
		}
	}()
	for _, name := range []string{l.FW, l.Far, l.LAN} {
		if err := newNamespace(name); err != nil {
			return l, err
		}
	}
	steps := [][]string{
		{"-n", l.FW, "link", "set", "lo", "up"},
		{"-n", l.Far, "link", "set", "lo", "up"},
		{"-n", l.LAN, "link", "set", "lo", "up"},
		{"-n", l.FW, "link", "add", "eth0", "type", "veth", "peer", "name", "p0", "netns", l.Far},
		{"-n", l.FW, "link", "add", "eth1", "type", "veth", "peer", "name", "p1", "netns", l.LAN},
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
		{"-n", l.FW, "link", "set", "eth0", "up"},
		{"-n", l.FW, "link", "set", "eth1", "up"},
		{"-n", l.Far, "link", "set", "p0", "up"},
		{"-n", l.LAN, "link", "set", "p1", "up"},
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
	return l, l.startCounting()
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

// counting is far's counter table: one counter per destination the
// floods use, in an ingress hook, before far's own firewall or stack.
const counting = `table netdev soak {
	chain in {
		type filter hook ingress device "p0" priority -500; policy accept;
		ip daddr 203.0.113.9 udp dport 9 counter name "f4"
		ip6 daddr 2001:db8:ff::9 udp dport 9 counter name "f6"
		ip daddr 198.51.100.1 udp dport 1194 counter name "vpn"
	}
	counter f4 { }
	counter f6 { }
	counter vpn { }
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

// Arrived is how many packets to each of far's destinations have arrived
// since the lab began: "f4" (Forbidden4), "f6" (Forbidden6), "vpn".
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
	var errs []error
	for _, name := range []string{l.FW, l.Far, l.LAN} {
		if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("deleting namespace %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func newNamespace(name string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // the thread stays in the namespace; the runtime drops it
		h, err := netns.NewNamed(name)
		if err == nil {
			h.Close()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// A Flood sends UDP datagrams at a steady rate until stopped.
type Flood struct {
	sent    atomic.Uint64
	refused atomic.Uint64 // by the sender's own OUTPUT chain
	stop    context.CancelFunc
	done    sync.WaitGroup
	err     error
}

// Flood sends pps datagrams a second from namespace ns (l.FW or l.LAN) to
// dst, from one socket, so that they make one flow as conntrack sees it,
// from srcPort (0: any).
func (l *Lab) Flood(ns string, dst netip.AddrPort, srcPort uint16, pps int) (*Flood, error) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &Flood{stop: cancel}
	ready := make(chan error, 1)
	f.done.Add(1)
	go func() {
		defer f.done.Done()
		runtime.LockOSThread() // never unlocked: the runtime drops the thread
		h, err := netns.GetFromName(ns)
		if err == nil {
			err = netns.Set(h)
			h.Close()
		}
		var fd int
		if err == nil {
			fd, err = udpSocket(dst.Addr(), srcPort)
		}
		ready <- err
		if err != nil {
			return
		}
		defer unix.Close(fd)
		f.send(ctx, fd, dst, pps)
	}()
	if err := <-ready; err != nil {
		cancel()
		return nil, fmt.Errorf("flooding from %s: %w", ns, err)
	}
	return f, nil
}

func udpSocket(dst netip.Addr, srcPort uint16) (int, error) {
	family := unix.AF_INET
	var local unix.Sockaddr = &unix.SockaddrInet4{Port: int(srcPort)}
	if dst.Is6() {
		family = unix.AF_INET6
		local = &unix.SockaddrInet6{Port: int(srcPort)}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(fd, local); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// send paces in slices of a millisecond, each sending its share at once.
func (f *Flood) send(ctx context.Context, fd int, dst netip.AddrPort, pps int) {
	var to unix.Sockaddr
	if dst.Addr().Is4() {
		to = &unix.SockaddrInet4{Port: int(dst.Port()), Addr: dst.Addr().As4()}
	} else {
		to = &unix.SockaddrInet6{Port: int(dst.Port()), Addr: dst.Addr().As16()}
	}
	payload := []byte("ksc soak: a datagram the policy forbids")
	start := time.Now()
	var n uint64
	for ctx.Err() == nil {
		due := uint64(time.Since(start).Seconds() * float64(pps))
		for ; n < due; n++ {
			err := unix.Sendto(fd, payload, unix.MSG_DONTWAIT, to)
			switch {
			case err == nil:
				f.sent.Add(1)
			case errors.Is(err, unix.EPERM):
				f.refused.Add(1)
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
