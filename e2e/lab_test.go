package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksc-project/ksc/backends/openvpn"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/require"
)

// lab is a client machine and "the internet", all on documentation
// addresses, with a real OpenVPN server on the internet side:
//
//	client  eth0 192.0.2.2/25, 2001:db8:1::2/64 ─── inet  lan0 192.0.2.1 (the LAN host and router)
//	        tun0 (OpenVPN client)                         lo: VPN server 198.51.100.1 (OpenVPN, udp/1194),
//	                                                          NTP 198.51.100.123, web 203.0.113.80,
//	                                                          DNS 203.0.113.53, 2001:db8:2::80
//	                                                      tunsrv: the tunnel's far end, 198.51.100.129/26
//
// A table in inet counts, in prerouting, every packet by the interface it
// arrives on: the verdicts are read where packets land, not on the client.
// The VPN server's end of the tunnel is tunsrv, or another name given to
// newNetwork (wireguard_test.go).
type lab struct {
	client, inet *labtest.NS
	dir          string
	pki          pki
	vpn          *exec.Cmd
}

const counting = `table inet count {
	chain pre {
		type filter hook prerouting priority -400; policy accept;
		iifname "lan0" ip saddr 192.0.2.2 ip daddr 203.0.113.80 counter comment "web via eth0"
		iifname "tunsrv" ip daddr 203.0.113.80 counter comment "web via tunnel"
		iifname "lan0" ip saddr 192.0.2.2 ip daddr 203.0.113.53 counter comment "dns via eth0"
		iifname "tunsrv" ip daddr 203.0.113.53 counter comment "dns via tunnel"
		iifname "lan0" ip6 daddr 2001:db8:2::/64 counter comment "ipv6 via eth0"
		iifname "lan0" ip daddr 198.51.100.123 udp dport 123 counter comment "ntp"
		iifname "lan0" ip daddr 198.51.100.1 tcp dport 443 counter comment "vpn server"
		iifname "lan0" ip daddr 192.0.2.1 tcp dport 22 counter comment "lan host"
		iifname "lan0" ip daddr 255.255.255.255 udp dport 67 counter comment "dhcp"
		iifname "lan0" ip daddr 203.0.113.201 counter comment "forwarded"
	}
}
`

// newLab is the network with an OpenVPN server.
func newLab(t *testing.T) *lab {
	labtest.Require(t, "nft", "openvpn")
	l := newNetwork(t, "tunsrv")
	l.pki = newPKI(t)
	l.startServer(t)
	return l
}

// newNetwork is the client and the internet, with no VPN server yet;
// tunnel names the server's tunnel interface, for the counters.
func newNetwork(t *testing.T, tunnel string) *lab {
	l := &lab{client: labtest.NewNS(t, "e2ec"), inet: labtest.NewNS(t, "e2ei"), dir: t.TempDir()}
	c, i := l.client, l.inet
	labtest.Veth(t, c, "eth0", i, "lan0")
	c.Exec(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	c.Exec(t, "ip", "addr", "add", "192.0.2.2/25", "dev", "eth0")
	c.Exec(t, "ip", "addr", "add", "2001:db8:1::2/64", "dev", "eth0", "nodad")
	c.Exec(t, "ip", "route", "add", "default", "via", "192.0.2.1")
	c.Exec(t, "ip", "-6", "route", "add", "default", "via", "2001:db8:1::1")
	i.Exec(t, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	i.Exec(t, "ip", "addr", "add", "192.0.2.1/25", "dev", "lan0")
	i.Exec(t, "ip", "addr", "add", "2001:db8:1::1/64", "dev", "lan0", "nodad")
	for _, a := range []string{"198.51.100.1/32", "198.51.100.123/32", "203.0.113.80/32", "203.0.113.53/32"} {
		i.Exec(t, "ip", "addr", "add", a, "dev", "lo")
	}
	i.Exec(t, "ip", "addr", "add", "2001:db8:2::80/128", "dev", "lo")
	// The forwarding probe: inet sends 203.0.113.201 to the client, which
	// routes it straight back; a copy arriving on lan0 was forwarded.
	i.Exec(t, "ip", "route", "add", "203.0.113.201/32", "via", "192.0.2.2")
	c.Exec(t, "ip", "route", "add", "203.0.113.201/32", "via", "192.0.2.1")
	out, err := i.ExecInput(strings.ReplaceAll(counting, `"tunsrv"`, strconv.Quote(tunnel)), "nft", "-f", "-")
	require.NoError(t, err, out)
	return l
}

func (l *lab) startServer(t *testing.T) {
	conf := filepath.Join(l.dir, "server.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`dev tunsrv
dev-type tun
proto udp4
local 198.51.100.1
port 1194
topology subnet
server 198.51.100.128 255.255.255.192
ca %s
cert %s
key %s
dh none
disable-dco
keepalive 1 10
push "redirect-gateway def1"
verb 3
`, l.pki.ca, l.pki.serverCert, l.pki.serverKey)), 0o600))
	l.vpn = l.start(t, l.inet, conf, "server.log")
	l.waitLog(t, "server.log", "Initialization Sequence Completed")
}

// clientConfig is a typical client config: the server pushes
// "redirect-gateway def1", which sends IPv4 into the tunnel and leaves IPv6
// on the physical interface. Patched, ksc's directives route IPv6 into the
// tunnel too and block it there.
func (l *lab) clientConfig(t *testing.T, patched bool) string {
	base := fmt.Sprintf(`client
dev tun0
dev-type tun
proto udp4
remote 198.51.100.1 1194
nobind
ca %s
cert %s
key %s
remote-cert-tls server
disable-dco
connect-retry 1
verb 3
`, l.pki.ca, l.pki.clientCert, l.pki.clientKey)
	if patched {
		res := openvpn.Patch([]byte(base), openvpn.Directives(ir.DefaultOpenVPNPlan()))
		require.Empty(t, res.Conflicts)
		require.True(t, res.Changed())
		base = string(res.Output)
	}
	path := filepath.Join(l.dir, "client.ovpn")
	require.NoError(t, os.WriteFile(path, []byte(base), 0o600))
	return path
}

// startClient starts the OpenVPN client and waits for the tunnel.
func (l *lab) startClient(t *testing.T, patched bool) *exec.Cmd {
	log := fmt.Sprintf("client-%d.log", time.Now().UnixNano())
	cmd := l.start(t, l.client, l.clientConfig(t, patched), log)
	l.waitLog(t, log, "Initialization Sequence Completed")
	return cmd
}

// stopClient kills the client, as a crash or a lost connection would, and
// waits until its tunnel interface is gone.
func (l *lab) stopClient(t *testing.T, cmd *exec.Cmd) {
	require.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	require.Eventually(t, func() bool {
		out, _ := l.client.ExecInput("", "ip", "link", "show", "tun0")
		return strings.Contains(out, "does not exist")
	}, 10*time.Second, 50*time.Millisecond, "tun0 did not go away")
}

func (l *lab) start(t *testing.T, ns *labtest.NS, conf, log string) *exec.Cmd {
	cmd := exec.Command("ip", "netns", "exec", ns.Name, "openvpn", "--config", conf, "--log", filepath.Join(l.dir, log))
	require.NoError(t, cmd.Start())
	// Registered after the namespaces: cleanups run last-first, so the
	// process is gone before its namespace is deleted.
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

func (l *lab) waitLog(t *testing.T, log, want string) {
	path := filepath.Join(l.dir, log)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if data, _ := os.ReadFile(path); strings.Contains(string(data), want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	data, _ := os.ReadFile(path)
	t.Fatalf("%s never said %q:\n%s", log, want, data)
}

// counters reads the far side's packet counts by rule comment.
func (l *lab) counters(t *testing.T) map[string]uint64 {
	out := countsOf(t, l.inet, "count")
	require.Len(t, out, 10)
	return out
}

// countsOf reads the packet counts of table inet name in ns, by rule
// comment.
func countsOf(t *testing.T, ns *labtest.NS, name string) map[string]uint64 {
	var listing struct {
		Nftables []struct {
			Rule *struct {
				Comment string `json:"comment"`
				Expr    []map[string]json.RawMessage
			} `json:"rule"`
		} `json:"nftables"`
	}
	require.NoError(t, json.Unmarshal([]byte(ns.Exec(t, "nft", "-j", "list", "table", "inet", name)), &listing))
	out := map[string]uint64{}
	for _, item := range listing.Nftables {
		if item.Rule == nil {
			continue
		}
		for _, e := range item.Rule.Expr {
			if raw, ok := e["counter"]; ok {
				var c struct{ Packets uint64 }
				require.NoError(t, json.Unmarshal(raw, &c))
				out[item.Rule.Comment] = c.Packets
			}
		}
	}
	return out
}

// delta runs fn and returns how many packets each counter saw meanwhile.
func (l *lab) delta(t *testing.T, fn func()) map[string]uint64 {
	before := l.counters(t)
	fn()
	after := l.counters(t)
	d := map[string]uint64{}
	for k, v := range after {
		d[k] = v - before[k]
	}
	return d
}

// probes are the exchanges the suite sends from the client (and one from
// the internet through the client).
func (l *lab) probes() []labtest.Probe {
	c, i := l.client, l.inet
	ap := netip.MustParseAddrPort
	return []labtest.Probe{
		{Name: "web", Proto: "tcp", From: c, To: i, Dst: ap("203.0.113.80:80")},
		{Name: "dns", Proto: "udp", From: c, To: i, Dst: ap("203.0.113.53:53")},
		{Name: "ipv6", Proto: "tcp", From: c, To: i, Dst: ap("[2001:db8:2::80]:80")},
		{Name: "ntp", Proto: "udp", From: c, To: i, Dst: ap("198.51.100.123:123")},
		{Name: "vpn server", Proto: "tcp", From: c, To: i, Dst: ap("198.51.100.1:443")},
		{Name: "lan host", Proto: "tcp", From: c, To: i, Dst: ap("192.0.2.1:22")},
		{Name: "dhcp", Proto: "udp", From: c, SrcPort: 68, Device: "eth0", To: i, Dst: ap("255.255.255.255:67")},
	}
}

// sendForwarded sends one datagram from inet that only comes back to inet
// if the client forwards it. A TTL of 2 lets it cross the client once and
// no more: the route back and forth would otherwise loop.
func (l *lab) sendForwarded(t *testing.T) {
	require.NoError(t, l.inet.Do(func() error {
		conn, err := net.Dial("udp", "203.0.113.201:9")
		if err != nil {
			return err
		}
		defer conn.Close()
		raw, err := conn.(*net.UDPConn).SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TTL, 2)
		}); err != nil {
			return err
		}
		if serr != nil {
			return serr
		}
		_, err = conn.Write([]byte("forward me"))
		return err
	}))
	time.Sleep(100 * time.Millisecond)
}

// run sends the probes and returns their outcomes and what arrived where.
func (l *lab) run(t *testing.T) (map[string]labtest.Outcome, map[string]uint64) {
	var outcomes map[string]labtest.Outcome
	arrived := l.delta(t, func() {
		var err error
		outcomes, err = labtest.RunAll(l.probes())
		require.NoError(t, err)
		l.sendForwarded(t)
	})
	return outcomes, arrived
}
