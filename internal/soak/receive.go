package soak

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// A datagram of a flood carries its flood's number and the time it was
// sent (CLOCK_MONOTONIC, which every namespace shares): far tells by it
// whether a packet left before or after a transition was in force.
const datagramSize = 16

func stamp(buf []byte, flood uint32) {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	binary.BigEndian.PutUint32(buf, flood)
	binary.BigEndian.PutUint64(buf[8:], uint64(ts.Nano()))
}

// Now is the time as the datagrams carry it.
func Now() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// receiver is far's end: it reads every datagram sent to its ports and
// remembers when each flood's datagrams were sent; on the echo port it
// also answers, so that the flow becomes established in conntrack.
type receiver struct {
	mu       sync.Mutex
	arrivals map[uint32][]int64 // send times, by flood
	fds      []int
	done     sync.WaitGroup
}

// Ports far listens on: DiscardPort only takes, EchoPort answers.
const (
	DiscardPort = 9
	EchoPort    = 7
)

func (l *Lab) startReceiving() error {
	r := &receiver{arrivals: map[uint32][]int64{}}
	l.receiver = r
	var addrs []netip.AddrPort
	for _, a := range []netip.Addr{Forbidden4.Addr(), Forbidden6.Addr()} {
		addrs = append(addrs, netip.AddrPortFrom(a, DiscardPort), netip.AddrPortFrom(a, EchoPort))
	}
	ready := make(chan error, len(addrs))
	for _, a := range addrs {
		r.done.Add(1)
		go func() {
			defer r.done.Done()
			err := enter(l.Far)
			fd := -1
			if err == nil {
				fd, err = listen(a)
			}
			if err == nil {
				r.mu.Lock()
				r.fds = append(r.fds, fd)
				r.mu.Unlock()
			}
			ready <- err
			if err == nil {
				r.read(fd, a.Port() == EchoPort)
			}
		}()
	}
	var errs []error
	for range addrs {
		errs = append(errs, <-ready)
	}
	return errors.Join(errs...)
}

func listen(a netip.AddrPort) (int, error) {
	family, sa := sockaddr(a)
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	// A full buffer would lose datagrams, and with them leaks: the
	// counters in far's ingress check that none was lost.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20)
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("binding %s: %w", a, err)
	}
	return fd, nil
}

func (r *receiver) read(fd int, echo bool) {
	buf := make([]byte, 2048)
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			return // closed
		}
		if n >= datagramSize {
			flood := binary.BigEndian.Uint32(buf)
			sent := int64(binary.BigEndian.Uint64(buf[8:]))
			r.mu.Lock()
			r.arrivals[flood] = append(r.arrivals[flood], sent)
			r.mu.Unlock()
		}
		if echo {
			unix.Sendto(fd, buf[:n], unix.MSG_DONTWAIT, from)
		}
	}
}

func (r *receiver) stop() {
	r.mu.Lock()
	for _, fd := range r.fds {
		unix.Shutdown(fd, unix.SHUT_RDWR)
		unix.Close(fd)
	}
	r.mu.Unlock()
	r.done.Wait()
}

// Arrivals are the send times (Now) of the datagrams of flood that arrived.
func (l *Lab) Arrivals(flood uint32) []int64 {
	r := l.receiver
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.arrivals[flood])
}

// Received is how many datagrams of flood arrived that were sent in
// [from, to) (Now times), and how many arrived in all.
func (l *Lab) Received(flood uint32, from, to int64) (within, all int) {
	r := l.receiver
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sent := range r.arrivals[flood] {
		if sent >= from && sent < to {
			within++
		}
	}
	return within, len(r.arrivals[flood])
}
