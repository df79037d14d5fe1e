package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/sim"
	"golang.org/x/sys/unix"
)

// sending is what sends one packet out of the firewall: its bytes, where
// to, and what its socket carries.
type sending struct {
	Data      []byte
	Dst       netip.Addr
	Oif       string
	ZoneIndex uint32 // the index of Oif, for an IPv6 destination
	Mark      uint32
	Priority  uint32
	UID, GID  uint32
}

// sendOut sends p from a raw socket of the firewall, owned by p's user
// and group, made in p's cgroup and carrying its mark and priority, out
// of the interface p names. A packet the policy drops fails the send
// with EPERM, which is no error here: the counters tell what happened.
func (l *Lab) sendOut(p sim.Packet, data []byte) error {
	s := sending{Data: data, Dst: p.Dst, Oif: p.Oif, Mark: p.Mark, Priority: p.Priority, UID: p.UID, GID: p.GID}
	return nsenter.Run(l.Path(), func() error {
		if p.Dst.Is6() {
			ifi, err := net.InterfaceByName(p.Oif)
			if err != nil {
				return err
			}
			s.ZoneIndex = uint32(ifi.Index)
		}
		if p.Cgroup != "" || l.fromCgroups {
			// A socket is its cgroup's from when it is made: only a
			// process started in it makes one there.
			return sendFromCgroup(p.Cgroup, s)
		}
		// The thread is thrown away afterwards (see nsenter.Run).
		return s.send()
	})
}

// send sends the packet from the calling thread, which it changes: the
// socket's owner is the thread's filesystem ids when it is made (what
// meta skuid and -m owner read).
func (s sending) send() error {
	if err := unix.Setfsgid(int(s.GID)); err != nil {
		return err
	}
	if err := unix.Setfsuid(int(s.UID)); err != nil {
		return err
	}
	domain := unix.AF_INET
	if s.Dst.Is6() {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return fmt.Errorf("lab socket: %w", err)
	}
	defer unix.Close(fd)
	err = errors.Join(
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(s.Mark)),
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PRIORITY, int(s.Priority)),
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1),
		unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, s.Oif))
	if err != nil {
		return fmt.Errorf("lab socket: %w", err)
	}
	var to unix.Sockaddr
	if s.Dst.Is4() {
		to = &unix.SockaddrInet4{Addr: s.Dst.As4()}
	} else {
		to = &unix.SockaddrInet6{Addr: s.Dst.As16(), ZoneId: s.ZoneIndex}
	}
	err = unix.Sendto(fd, s.Data, 0, to)
	if err != nil && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("sending %s out of %s: %w", s.Dst, s.Oif, err)
	}
	return nil
}

// sendIn sends p from the peer into the firewall's input interface, then
// the marker behind it, and returns the counters once the marker is
// counted. Both go from one CPU, so that the firewall takes them from one
// queue in order. A packet in on lo is written onto the firewall's own
// lo, below IP: it comes in there as a looped-back packet does, without
// crossing the output chains first.
func (l *Lab) sendIn(p sim.Packet, data []byte) (map[string]uint64, error) {
	ln, from := l.links[p.Iif], l.peer
	if p.Iif == "lo" {
		ln, from = link{peerIndex: 1, fwMAC: make(net.HardwareAddr, 6)}, l.FW
	}
	err := nsenter.Run(nsenter.Path(from), func() error {
		var cpus unix.CPUSet
		if err := unix.SchedGetaffinity(0, &cpus); err != nil {
			return err
		}
		for cpu := 0; cpu < len(cpus)*64; cpu++ {
			if cpus.IsSet(cpu) {
				cpus.Zero()
				cpus.Set(cpu)
				break
			}
		}
		if err := unix.SchedSetaffinity(0, &cpus); err != nil {
			return fmt.Errorf("pinning the lab's sender: %w", err)
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("lab socket: %w", err)
		}
		defer unix.Close(fd)
		for _, frame := range []struct {
			q    sim.Packet
			data []byte
		}{{p, data}, {marker, marker.Wire()}} {
			ethType := uint16(unix.ETH_P_IP)
			if frame.q.Src.Is6() {
				ethType = unix.ETH_P_IPV6
			}
			to := &unix.SockaddrLinklayer{Protocol: htons(ethType), Ifindex: ln.peerIndex, Halen: 6}
			copy(to.Addr[:], destinationMAC(frame.q, ln.fwMAC))
			if err := unix.Sendto(fd, frame.data, 0, to); err != nil {
				return fmt.Errorf("sending %s -> %s into %s: %w", frame.q.Src, frame.q.Dst, p.Iif, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(markerWait); ; time.Sleep(time.Millisecond) {
		n, err := l.counts()
		if err != nil || n[tagMarker] > 0 {
			return n, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the lab's marker did not arrive within %s", markerWait)
		}
	}
}

// destinationMAC is where the frame goes: the firewall's interface for a
// packet to the host, else the broadcast or multicast address that gives
// it the packet type the line says.
func destinationMAC(p sim.Packet, host net.HardwareAddr) net.HardwareAddr {
	switch p.Pkttype {
	case 1:
		return net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	case 2:
		if p.Dst.Is4() {
			a := p.Dst.As4()
			return net.HardwareAddr{0x01, 0x00, 0x5e, a[1] & 0x7f, a[2], a[3]}
		}
		a := p.Dst.As16()
		return net.HardwareAddr{0x33, 0x33, a[12], a[13], a[14], a[15]}
	}
	return host
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
