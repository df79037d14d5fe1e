package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/cgroup"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loaders are every way ksc's kill switch reaches the kernel.
var loaders = []struct {
	name  string
	tools []string
	load  func(t *testing.T, ns *labtest.NS, p *ir.Policy)
}{
	{"nft-f", []string{"nft"}, func(t *testing.T, ns *labtest.NS, p *ir.Policy) {
		root, err := cgroup.NftRootFor(p)
		require.NoError(t, err)
		text, err := nft.Render(p, root)
		require.NoError(t, err)
		out, err := ns.ExecInput(string(text), "nft", "-f", "-")
		require.NoError(t, err, out)
	}},
	{"ksc-apply-netlink", nil, func(t *testing.T, ns *labtest.NS, p *ir.Policy) {
		require.NoError(t, kernel.Apply(golden.Batch(t, p), nsenter.Path(ns.Name)))
	}},
	{"iptables-nft", []string{"iptables-nft-restore"}, func(t *testing.T, ns *labtest.NS, p *ir.Policy) {
		require.NoError(t, iptables.Apply(p, nsenter.Path(ns.Name), iptables.ModeNFT))
	}},
	{"iptables-legacy", []string{"iptables-legacy-restore"}, func(t *testing.T, ns *labtest.NS, p *ir.Policy) {
		require.NoError(t, iptables.Apply(p, nsenter.Path(ns.Name), iptables.ModeLegacy))
	}},
}

// killswitch compiles examples/ivpn-killswitch.ks for this lab.
func killswitch(t *testing.T, options ...string) *ir.Policy {
	src, err := os.ReadFile(filepath.Join(golden.Root(t), "examples", "ivpn-killswitch.ks"))
	require.NoError(t, err)
	cfg := lang.Config{Enable: options, Defines: []lang.Override{
		{Name: "VPN_SERVERS", Value: "198.51.100.1"}, {Name: "NTP_SERVERS", Value: "198.51.100.123"},
		{Name: "LAN_CLIENTS", Value: "192.0.2.0/25"}, {Name: "INET_DEV", Value: "eth0"}, {Name: "VPN_DEV", Value: "tun0"},
	}}
	p, ds := lang.Load("ivpn-killswitch.ks", src, cfg)
	require.False(t, ds.HasErrors(), "%v", ds)
	return p
}

// The kill switch with a real OpenVPN tunnel, loaded each way: while the
// tunnel is up, traffic flows through it and nothing reaches the web over
// eth0; when the client dies, nothing reaches the web, the DNS resolver or
// any IPv6 host, while the VPN server and NTP stay reachable; the client
// reconnects and traffic resumes without re-applying anything. With -e lan
// only the LAN host changes. Forwarded packets never pass; DHCP broadcast does.
func TestKillswitchWithRealTunnel(t *testing.T) {
	for _, loader := range loaders {
		t.Run(loader.name, func(t *testing.T) {
			t.Parallel()
			labtest.Require(t, append([]string{"openvpn"}, loader.tools...)...)
			l := newLab(t)
			loader.load(t, l.client, killswitch(t))

			vpn := l.startClient(t, true)
			up, arrived := l.run(t)
			assert.Equal(t, labtest.Answered, up["web"], "web through the tunnel")
			assert.Equal(t, labtest.Answered, up["dns"], "DNS through the tunnel")
			assert.NotZero(t, arrived["web via tunnel"])
			assert.Zero(t, arrived["web via eth0"], "web traffic bypassed the tunnel")
			assert.Zero(t, arrived["dns via eth0"], "DNS bypassed the tunnel")
			assert.Zero(t, arrived["ipv6 via eth0"], "IPv6 bypassed the tunnel")

			l.stopClient(t, vpn)
			down, arrived := l.run(t)
			for _, leak := range []string{"web via eth0", "dns via eth0", "ipv6 via eth0", "web via tunnel", "dns via tunnel"} {
				assert.Zero(t, arrived[leak], "tunnel down: %s", leak)
			}
			assert.Equal(t, labtest.Blocked, down["web"])
			assert.Equal(t, labtest.Blocked, down["dns"])
			assert.Equal(t, labtest.Blocked, down["ipv6"])
			assert.Equal(t, labtest.Answered, down["ntp"], "NTP stays reachable")
			assert.NotZero(t, arrived["ntp"])
			assert.Equal(t, labtest.Answered, down["vpn server"], "the VPN server stays reachable")
			assert.Equal(t, labtest.Blocked, down["lan host"], "no LAN without -e lan")
			assert.NotZero(t, arrived["dhcp"], "DHCP broadcast is allowed")
			assert.Zero(t, arrived["forwarded"], "forwarded packets must be dropped")

			vpn = l.startClient(t, true)
			again, arrived := l.run(t)
			assert.Equal(t, up, again, "after reconnecting, everything works as before")
			assert.NotZero(t, arrived["web via tunnel"])
			assert.Zero(t, arrived["web via eth0"])

			loader.load(t, l.client, killswitch(t, "lan"))
			lan, arrived := l.run(t)
			assert.Equal(t, labtest.Answered, lan["lan host"], "-e lan reaches the LAN host")
			assert.NotZero(t, arrived["lan host"])
			delete(lan, "lan host")
			delete(again, "lan host")
			assert.Equal(t, again, lan, "-e lan changes nothing but the LAN")
			assert.Zero(t, arrived["forwarded"], "forwarded packets must be dropped")
			assert.Zero(t, arrived["web via eth0"])
			l.stopClient(t, vpn)
		})
	}
}
