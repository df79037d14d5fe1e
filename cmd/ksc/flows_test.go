package main

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// udpFlow is a UDP exchange that runs from a client namespace to a DNS
// server until the test ends: the client sends every 20 ms and reads the
// echoes, so that conntrack holds it as established.
type udpFlow struct {
	arrived atomic.Int64 // datagrams the server got
}

func startUDPFlow(t *testing.T, client, server *labtest.NS) *udpFlow {
	f := &udpFlow{}
	var listener, sender *net.UDPConn
	require.NoError(t, server.Do(func() (err error) {
		listener, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("203.0.113.53"), Port: 53})
		return err
	}))
	require.NoError(t, client.Do(func() (err error) {
		sender, err = net.DialUDP("udp", &net.UDPAddr{Port: 40000}, &net.UDPAddr{IP: net.ParseIP("203.0.113.53"), Port: 53})
		return err
	}))
	done := make(chan struct{})
	t.Cleanup(func() { close(done); listener.Close(); sender.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := listener.ReadFromUDP(buf)
			if err != nil {
				return
			}
			f.arrived.Add(1)
			listener.WriteToUDP(buf[:n], from)
		}
	}()
	go func() {
		buf := make([]byte, 64)
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			sender.Write([]byte("query"))
			sender.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			sender.Read(buf)
		}
	}()
	require.Eventually(t, func() bool { return f.arrived.Load() > 5 }, 5*time.Second, 20*time.Millisecond, "the flow never ran")
	return f
}

// clientAndServer are two namespaces joined by a veth pair: the client,
// 192.0.2.2 on eth0, routes by the server, which has 203.0.113.53, the
// address startUDPFlow sends to.
func clientAndServer(t *testing.T) (client, server *labtest.NS) {
	client, server = labtest.NewNS(t, "client"), labtest.NewNS(t, "server")
	labtest.Veth(t, client, "eth0", server, "lan0")
	client.Exec(t, "ip", "addr", "add", "192.0.2.2/25", "dev", "eth0")
	client.Exec(t, "ip", "route", "add", "default", "via", "192.0.2.1")
	server.Exec(t, "ip", "addr", "add", "192.0.2.1/25", "dev", "lan0")
	server.Exec(t, "ip", "addr", "add", "203.0.113.53/32", "dev", "lo")
	return client, server
}

// during counts what arrives at the server in the next 300 ms.
func (f *udpFlow) during() int64 {
	before := f.arrived.Load()
	time.Sleep(300 * time.Millisecond)
	return f.arrived.Load() - before
}

// trackingFirewall is a firewall that lets everything through, and uses
// conntrack: the kernel tracks flows only where some rule asks for it.
const trackingFirewall = `table inet before {
	chain output {
		type filter hook output priority 0; policy accept;
		ct state established accept
	}
}
`

// A UDP flow to a DNS server over eth0, opened before the kill switch,
// stops when the kill switch is applied with either backend: the apply
// closes what the policy would not let start. With --keep-connections it
// goes on through "ct state established accept": the leak the closing
// prevents.
func TestApplyClosesFlowsThePolicyWouldNotStart(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	useRunDir(t)
	killswitch := []string{"apply", "../../examples/ivpn-killswitch.ks", "-D", "INET_DEV=eth0",
		"-D", "VPN_SERVERS=198.51.100.1", "-D", "NTP_SERVERS=198.51.100.123", "-D", "LAN_CLIENTS=192.0.2.0/25"}
	for _, tc := range []struct {
		name string
		args []string
		keep bool
	}{
		{"nft", nil, false},
		{"nft, --keep-connections", []string{"--keep-connections"}, true},
		{"iptables legacy", []string{"--backend", "iptables", "--iptables-mode", "legacy"}, false},
		{"iptables nft", []string{"--backend", "iptables", "--iptables-mode", "nft"}, false},
		{"iptables, --keep-connections", []string{"--backend", "iptables", "--keep-connections"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := clientAndServer(t)
			// A firewall was there before, so that conntrack tracks the flow.
			out, err := client.ExecInput(trackingFirewall, "nft", "-f", "-")
			require.NoError(t, err, out)
			flow := startUDPFlow(t, client, server)
			require.NotZero(t, flow.during())

			code, _, stderr := ksc(append(append(killswitch, "--netns", client.Name), tc.args...)...)
			require.Equal(t, 0, code, stderr)
			if tc.keep {
				assert.NotZero(t, flow.during(), "kept, the flow goes on through ct state established accept")
				assert.NotContains(t, stderr, "closed")
				return
			}
			assert.Contains(t, stderr, "ksc apply: closed 1 connections the policy would not let start (--keep-connections keeps them):\n"+
				"  out eth0 udp 192.0.2.2:40000 203.0.113.53:53\n")
			// A datagram sent just before the apply may still be on its
			// way (one, under load); a leak goes on every 20 ms.
			time.Sleep(50 * time.Millisecond)
			assert.Zero(t, flow.during(), "a flow opened before the kill switch still leaks")
		})
	}
}
