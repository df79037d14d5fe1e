// Package lab answers "what does the kernel do with this packet?" for a
// policy loaded in a throwaway pair of network namespaces: ksc test
// --kernel holds a policy's promises against real packets with it.
//
// The firewall namespace holds the policy and one veth interface for each
// interface name the packets use; the other end of each lies in a peer
// namespace, which sends the packets that arrive. Nothing joins either
// namespace to this machine's network, so no probe can leave it.
//
// A probe is built byte for byte as its packet line says (addresses,
// ports, ICMP type, TCP flags, mark, owner) and its conntrack state is
// made real: a flow is put into conntrack before an established probe, a
// related probe is an ICMP error about such a flow. A small nftables
// table of the lab's own counts what passed (a chain after every other
// at the last hook the packet crosses) and what the kernel answered with
// a reset or an ICMP error, by its code (a chain before every other at
// output): passed is accept, answered is reject, neither is drop.
package lab

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/lab/ns"
	"github.com/vishvananda/netlink"
)

// Lab is a firewall namespace, where the policy is loaded, and a peer
// namespace joined to it by one veth pair per interface.
type Lab struct {
	// FW is the firewall namespace's name, as ip netns knows it.
	FW, peer string
	links    map[string]link
	fw       *netlink.Handle
	// observing is set once the lab's own nftables table exists.
	observing bool
	// fromCgroups: the policy matches cgroups, so that a probe must come
	// from the one its line says (the root by default), not from
	// wherever this program runs.
	fromCgroups bool
}

// link is one of the firewall's interfaces and its peer's end.
type link struct {
	fwIndex, peerIndex int
	fwMAC              net.HardwareAddr
}

// New makes a lab with an interface of each name (lo is always there).
// Close deletes it; a lab left behind by a killed ksc is two namespaces
// named ksc-lab-*.
func New(interfaces []string) (l *Lab, err error) {
	l = &Lab{links: map[string]link{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
			l = nil
		}
	}()
	fw, err := ns.Create("lab-fw")
	if err != nil {
		return l, err
	}
	l.FW = fw.Name
	peer, err := ns.Create("lab-peer")
	if err != nil {
		return l, err
	}
	l.peer = peer.Name
	for space, settings := range map[*ns.Namespace][]sysctl{fw: firewallSettings, peer: peerSettings} {
		if err := space.Do(func() error { return write(settings) }); err != nil {
			return l, err
		}
	}
	if l.fw, err = ns.HandleAt(l.FW); err != nil {
		return l, err
	}
	for i, name := range interfaces {
		if _, ok := l.links[name]; ok || name == "lo" {
			continue
		}
		if l.links[name], err = l.veth(name, i); err != nil {
			return l, err
		}
	}
	return l, nil
}

// Path is the firewall namespace's path, for the loaders.
func (l *Lab) Path() string { return nsenter.Path(l.FW) }

// Close deletes both namespaces, and with them everything in them.
func (l *Lab) Close() error {
	if l.fw != nil {
		l.fw.Close()
	}
	var names []string
	for _, name := range []string{l.FW, l.peer} {
		if name != "" {
			names = append(names, name)
		}
	}
	return ns.Delete(names...)
}

// veth makes the firewall's interface name and its peer's end, pN.
func (l *Lab) veth(name string, i int) (link, error) {
	mac := net.HardwareAddr{0x02, 0x6b, 0x73, 0, byte(i >> 8), byte(i)}
	fwIndex, peerIndex, err := ns.Veth(&ns.Namespace{Name: l.FW}, name, mac, &ns.Namespace{Name: l.peer}, fmt.Sprintf("p%d", i))
	if err != nil {
		return link{}, err
	}
	return link{fwIndex: fwIndex, peerIndex: peerIndex, fwMAC: mac}, nil
}

type sysctl struct{ key, value string }

// firewallSettings make the firewall a router that answers every rejected
// probe at once (no ICMP rate limits) and takes any source (no reverse
// path filter), with addresses usable at once (no duplicate detection).
var firewallSettings = []sysctl{
	{"net/ipv6/conf/all/accept_dad", "0"}, {"net/ipv6/conf/default/accept_dad", "0"},
	{"net/ipv4/conf/all/rp_filter", "0"}, {"net/ipv4/conf/default/rp_filter", "0"},
	{"net/ipv4/conf/all/forwarding", "1"}, {"net/ipv6/conf/all/forwarding", "1"},
	{"net/ipv4/icmp_ratelimit", "0"}, {"net/ipv6/icmp/ratelimit", "0"},
	{"net/ipv4/icmp_msgs_per_sec", "1000000"}, {"net/ipv4/icmp_msgs_burst", "1000000"},
	// A looped-back packet carries its route from the way out; one the
	// lab writes onto lo is routed afresh, and its source, an address of
	// this machine, would be a martian but for accept_local.
	{"net/ipv4/conf/lo/accept_local", "1"},
}

// peerSettings keep the peer quiet: it only sends what the lab makes.
var peerSettings = []sysctl{
	{"net/ipv6/conf/all/disable_ipv6", "1"}, {"net/ipv6/conf/default/disable_ipv6", "1"},
}

// conntrackSettings make conntrack judge a probe by its flags alone: a
// TCP packet without SYN and without a flow is invalid, not picked up,
// and a put-in flow takes any sequence number.
var conntrackSettings = []sysctl{
	{"net/netfilter/nf_conntrack_tcp_loose", "0"},
	{"net/netfilter/nf_conntrack_tcp_be_liberal", "1"},
	{"net/netfilter/nf_conntrack_checksum", "1"},
}

// write sets sysctls of the namespace the calling thread is in.
func write(settings []sysctl) error {
	for _, s := range settings {
		if err := os.WriteFile(filepath.Join("/proc/sys", s.key), []byte(s.value), 0); err != nil {
			return fmt.Errorf("lab setting %s: %w", s.key, err)
		}
	}
	return nil
}
