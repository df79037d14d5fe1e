package labtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// Outcome is what happened to a probe.
type Outcome string

const (
	// Blocked: nothing reached the far side (for TCP: no connection).
	Blocked Outcome = "blocked"
	// Delivered: the far side got the datagram, but its reply did not come back.
	Delivered Outcome = "delivered"
	// Answered: the far side got it and its reply came back (for TCP: connected).
	Answered Outcome = "answered"
)

// Probe is one packet exchange between two namespaces.
type Probe struct {
	Name  string
	Proto string // "tcp" or "udp"
	From  *NS
	// Src, when valid, is the source address to bind; it must exist in From.
	Src netip.Addr
	// SrcPort, when not 0, is the source port to bind (68 for a DHCP client).
	SrcPort uint16
	// Device, when set, binds the sender to an interface (for broadcasts).
	Device string
	To     *NS
	// Dst is where the probe goes; the listener binds it in To, or the
	// wildcard address when Dst is the broadcast address.
	Dst netip.AddrPort
}

// wait is how long a probe waits for its packet or reply. Verdicts are exact
// (drop or accept), so a short wait only makes a blocked probe cheap.
const wait = 400 * time.Millisecond

// Run sends the probe and reports its outcome.
func (p Probe) Run() (Outcome, error) {
	if p.Proto == "tcp" {
		return p.runTCP()
	}
	return p.runUDP()
}

func (p Probe) listenAddr() string {
	if p.Dst.Addr() == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Sprintf("0.0.0.0:%d", p.Dst.Port())
	}
	return p.Dst.String()
}

func (p Probe) dialer() *net.Dialer {
	d := &net.Dialer{Timeout: wait}
	if p.Src.IsValid() || p.SrcPort != 0 {
		var ip net.IP
		if p.Src.IsValid() {
			ip = p.Src.AsSlice()
		}
		if p.Proto == "tcp" {
			d.LocalAddr = &net.TCPAddr{IP: ip, Port: int(p.SrcPort)}
		} else {
			d.LocalAddr = &net.UDPAddr{IP: ip, Port: int(p.SrcPort)}
		}
	}
	d.Control = func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if p.Device != "" {
				serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, p.Device)
			}
			if serr == nil && p.Proto == "udp" {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
			}
		})
		return errors.Join(err, serr)
	}
	return d
}

func (p Probe) runTCP() (Outcome, error) {
	var ln net.Listener
	if err := p.To.Do(func() (err error) {
		return retryInUse(func() error {
			ln, err = net.Listen("tcp", p.listenAddr())
			return err
		})
	}); err != nil {
		return "", fmt.Errorf("probe %s: listen: %w", p.Name, err)
	}
	// Close returns before the socket is released while Accept is still
	// running; waiting for the loop to end frees the port for the next probe.
	accepting := make(chan struct{})
	defer func() { ln.Close(); <-accepting }()
	go func() {
		defer close(accepting)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	outcome := Blocked
	err := p.From.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		c, err := p.dialer().DialContext(ctx, "tcp", p.Dst.String())
		if err == nil {
			outcome = Answered
			c.Close()
		}
		return nil
	})
	return outcome, err
}

func (p Probe) runUDP() (Outcome, error) {
	var ln net.PacketConn
	if err := p.To.Do(func() (err error) {
		return retryInUse(func() error {
			ln, err = net.ListenPacket("udp", p.listenAddr())
			return err
		})
	}); err != nil {
		return "", fmt.Errorf("probe %s: listen: %w", p.Name, err)
	}
	defer ln.Close()
	got := make(chan bool, 1)
	go func() {
		buf := make([]byte, 64)
		ln.SetReadDeadline(time.Now().Add(2 * wait))
		n, from, err := ln.ReadFrom(buf)
		if err != nil {
			got <- false
			return
		}
		got <- true
		ln.WriteTo(buf[:n], from)
	}()
	var conn net.Conn
	if err := p.From.Do(func() (err error) {
		conn, err = p.dialer().Dial("udp", p.Dst.String())
		return err
	}); err != nil {
		return "", fmt.Errorf("probe %s: dial: %w", p.Name, err)
	}
	defer conn.Close()
	// An output-chain drop makes the send itself fail with EPERM.
	if _, err := conn.Write([]byte(p.Name)); err != nil {
		<-got
		return Blocked, nil
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 64)
	_, readErr := conn.Read(buf)
	if !<-got {
		return Blocked, nil
	}
	if readErr != nil {
		return Delivered, nil
	}
	return Answered, nil
}

// retryInUse retries a bind that fails with EADDRINUSE. Probes that share a
// listening address take turns, but under load the kernel can keep the port
// of the previous listener bound for a moment after it is closed.
func retryInUse(bind func() error) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := bind()
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RunAll runs probes concurrently, except that probes listening on the same
// address take turns, and returns each probe's outcome by name.
func RunAll(probes []Probe) (map[string]Outcome, error) {
	var (
		mu       sync.Mutex
		results  = map[string]Outcome{}
		errs     []error
		wg       sync.WaitGroup
		addrLock = map[string]*sync.Mutex{}
	)
	for _, p := range probes {
		key := p.To.Name + " " + p.Proto + " " + p.listenAddr()
		if addrLock[key] == nil {
			addrLock[key] = &sync.Mutex{}
		}
	}
	for _, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := addrLock[p.To.Name+" "+p.Proto+" "+p.listenAddr()]
			l.Lock()
			outcome, err := p.Run()
			l.Unlock()
			mu.Lock()
			defer mu.Unlock()
			results[p.Name] = outcome
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	return results, errors.Join(errs...)
}
