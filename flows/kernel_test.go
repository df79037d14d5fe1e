package flows_test

import (
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksc-project/ksc/flows"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A VPN client's routing: the tunnel (tun0) is the default route, and
// ip rules send what comes from eth0's address, and what carries mark 2
// (wg-quick's endpoint socket), by eth0.
const vpnClient = `
table inet ks {
	chain input hook input policy drop {
		iifname "lo" accept
		ct state established,related accept
		iifname "eth0" tcp dport 22 accept
	}
	chain output hook output policy drop {
		oifname "lo" accept
		oifname "tun0" accept
		oifname "eth0" meta mark 0x2 udp dport 51820 accept
		ct state established,related accept
	}
}
`

// Flows are judged by the interface they really use: a flow from eth0's
// address goes out eth0 though the default route is the tunnel (and is
// closed), an SSH session that came in by eth0 is answered by eth0 (and
// kept: closing it would lock its user out), and a socket's mark takes
// its flow by eth0 (kept, as the policy allows that mark there).
func TestFlowsAreJudgedByTheirRealRoute(t *testing.T) {
	labtest.Require(t, "nft")
	fw, uplink, tunnel := labtest.NewNS(t, "route-fw"), labtest.NewNS(t, "route-up"), labtest.NewNS(t, "route-tun")
	labtest.Veth(t, fw, "eth0", uplink, "eth0")
	labtest.Veth(t, fw, "tun0", tunnel, "eth0")
	fw.Exec(t, "ip", "addr", "add", "192.0.2.2/24", "dev", "eth0")
	fw.Exec(t, "ip", "addr", "add", "198.51.100.2/24", "dev", "tun0")
	fw.Exec(t, "ip", "route", "add", "default", "via", "198.51.100.1")
	fw.Exec(t, "ip", "route", "add", "default", "via", "192.0.2.1", "table", "100")
	fw.Exec(t, "ip", "rule", "add", "from", "192.0.2.2", "table", "100")
	fw.Exec(t, "ip", "rule", "add", "fwmark", "2", "table", "100")
	for _, ns := range []*labtest.NS{uplink, tunnel} {
		ns.Exec(t, "ip", "addr", "add", "203.0.113.9/32", "dev", "lo")
		ns.Exec(t, "ip", "addr", "add", "203.0.113.50/32", "dev", "lo")
	}
	uplink.Exec(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "eth0")
	tunnel.Exec(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "eth0")
	// Conntrack tracks a namespace once a ruleset there uses it.
	out, err := fw.ExecInput("table inet track { chain c { type filter hook output priority 0; ct state new accept\n }\n }\n", "nft", "-f", "-")
	require.NoError(t, err, out)

	// Far ends: a UDP echo on each side, and an SSH client from the uplink.
	for _, ns := range []*labtest.NS{uplink, tunnel} {
		for _, port := range []int{9, 51820} {
			echo(t, ns, &net.UDPAddr{IP: net.ParseIP("203.0.113.9"), Port: port})
		}
	}
	// Out from eth0's address: ip rule "from 192.0.2.2" takes it by eth0.
	udpFlow(t, fw, &net.UDPAddr{IP: net.ParseIP("192.0.2.2"), Port: 40000}, 9, 0)
	// Out with mark 2 from no address in particular: by eth0.
	udpFlow(t, fw, &net.UDPAddr{Port: 40001}, 51820, 2)
	// In from the uplink to SSH.
	var listener net.Listener
	require.NoError(t, fw.Do(func() (err error) { listener, err = net.Listen("tcp", "192.0.2.2:22"); return err }))
	t.Cleanup(func() { listener.Close() })
	go func() {
		c, err := listener.Accept()
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}()
	var session net.Conn
	require.NoError(t, uplink.Do(func() (err error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("203.0.113.50"), Port: 50022}, Timeout: 5 * time.Second}
		session, err = d.Dial("tcp", "192.0.2.2:22")
		return err
	}))
	t.Cleanup(func() { session.Close() })
	time.Sleep(100 * time.Millisecond)

	p, ds := lang.Load("client.ks", []byte(vpnClient), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	all, err := flows.Read(nsenter.Path(fw.Name))
	require.NoError(t, err)
	judged := map[string]bool{}
	for _, f := range all {
		judged[f.String()] = flows.Allows(p)(f)
	}
	want := map[string]bool{
		"out eth0 udp 192.0.2.2:40000 203.0.113.9:9":     false,
		"out eth0 udp 192.0.2.2:40001 203.0.113.9:51820": true,
		"in eth0 tcp 203.0.113.50:50022 192.0.2.2:22":    true,
	}
	for flow, allowed := range want {
		got, found := judged[flow]
		if assert.True(t, found, "%s not judged as such; judged: %v", flow, keys(judged)) {
			assert.Equal(t, allowed, got, flow)
		}
	}
}

func keys(m map[string]bool) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return strings.Join(out, "; ")
}

// echo answers every datagram to addr in ns, until the test ends.
func echo(t *testing.T, ns *labtest.NS, addr *net.UDPAddr) {
	var c *net.UDPConn
	require.NoError(t, ns.Do(func() (err error) { c, err = net.ListenUDP("udp", addr); return err }))
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			c.WriteToUDP(buf[:n], from)
		}
	}()
}

// udpFlow sends a datagram from local (with mark, when not 0) to
// 203.0.113.9:port in ns and reads the echo: a flow conntrack holds.
func udpFlow(t *testing.T, ns *labtest.NS, local *net.UDPAddr, port int, mark int) {
	require.NoError(t, ns.Do(func() error {
		c, err := net.ListenUDP("udp", local)
		if err != nil {
			return err
		}
		t.Cleanup(func() { c.Close() })
		if mark != 0 {
			raw, err := c.SyscallConn()
			if err != nil {
				return err
			}
			var serr error
			raw.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK, mark) })
			if serr != nil {
				return serr
			}
		}
		to := &net.UDPAddr{IP: net.ParseIP("203.0.113.9"), Port: port}
		if _, err := c.WriteToUDP([]byte("x"), to); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _, err = c.ReadFromUDP(make([]byte, 8))
		return err
	}))
}
