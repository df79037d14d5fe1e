package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// limitPolicy accepts a burst of 3 IPv4 datagrams, then 1 a minute.
const limitPolicy = `flush ruleset
table inet t {
	chain c hook input policy drop {
		meta nfproto ipv4 udp dport 9 limit rate 1/minute burst 3 packets accept
	}
}
`

// bothFamiliesPolicy keeps one rate for IPv4 and IPv6 together, as nft
// means a limit in an inet table.
const bothFamiliesPolicy = `flush ruleset
table inet t {
	chain c hook input policy drop {
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		udp dport 9 limit rate 5/minute burst 5 packets accept
	}
}
`

// A limit for both families is one bucket in nft: seven IPv4 datagrams,
// then one IPv6, and the IPv6 one is over the rate. iptables and
// ip6tables would keep a bucket each and pass it: the iptables target
// refuses the rule instead (issue 27).
func TestOneRateForBothFamilies(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	useRunDir(t)
	path := writePolicy(t, t.TempDir(), bothFamiliesPolicy)
	for _, tc := range everyLoader(path) {
		t.Run(tc.name, func(t *testing.T) {
			fw, peer := firewallAndPeer(t, "rate")
			fw.Exec(t, "ip", "addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad")
			peer.Exec(t, "ip", "addr", "add", "2001:db8::9/64", "dev", "eth0", "nodad")
			if strings.HasPrefix(tc.name, "iptables") {
				code, _, stderr := ksc("apply", path, "--netns", fw.Name, "--backend", "iptables")
				assert.Equal(t, 1, code)
				assert.Contains(t, stderr, "cannot express limit rate 5/minute in a rule for IPv4 and IPv6")
				return
			}
			tc.load(t, fw)
			arrived4, arrived6 := countUDP(t, fw, "192.0.2.1:9"), countUDP(t, fw, "[2001:db8::1]:9")
			sendUDP(t, peer, "192.0.2.1:9", 7)
			sendUDPFrom(t, peer, "2001:db8::9", "[2001:db8::1]:9", 1)
			assert.Equal(t, int64(5), arrived4.Load(), "the burst of IPv4")
			assert.Equal(t, int64(0), arrived6.Load(), "the IPv6 datagram is over the same rate")
		})
	}
}

// A rate limit passes its burst and no more, on every loader: the same
// token bucket in nft (text and netlink) and in iptables' limit match.
func TestLimitPassesTheBurstOnEveryLoader(t *testing.T) {
	onEveryLoader(t, "limit", limitPolicy, func(t *testing.T, fw, peer *labtest.NS) {
		arrived := countUDP(t, fw, "192.0.2.1:9")
		sendUDP(t, peer, "192.0.2.1:9", 8)
		assert.Equal(t, int64(3), arrived.Load(), "the burst passes, the rest is over the rate")
	})
}

// onEveryLoader loads the policy into a firewall (see firewallAndPeer) in
// each way ksc can, and runs check on each.
func onEveryLoader(t *testing.T, role, policy string, check func(t *testing.T, fw, peer *labtest.NS)) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	useRunDir(t)
	path := writePolicy(t, t.TempDir(), policy)
	for _, tc := range everyLoader(path) {
		t.Run(tc.name, func(t *testing.T) {
			fw, peer := firewallAndPeer(t, role)
			tc.load(t, fw)
			check(t, fw, peer)
		})
	}
}

// markPolicy marks what goes to port 9, and the connection of what goes
// to port 10 (then copies that back into the packet's mark, as wg-quick
// does), and drops by the marks in later rules.
const markPolicy = `flush ruleset
table inet t {
	chain out hook output policy accept {
		udp dport 9 meta mark set 0x2
		udp dport 10 ct mark set 0x3
		ct mark 0x3 meta mark set ct mark
		meta mark 0x2 drop
		meta mark 0x3 drop
	}
}
`

// A mark set in one rule holds for the rules after it, on every loader:
// the marked datagrams (port 9 directly, port 10 through the connection's
// mark) never leave; others do.
func TestMarkSetOnEveryLoader(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	useRunDir(t)
	policy := writePolicy(t, t.TempDir(), markPolicy)
	loads := map[string][]string{
		"netlink":         nil,
		"iptables-nft":    {"--backend", "iptables", "--iptables-mode", "nft"},
		"iptables-legacy": {"--backend", "iptables", "--iptables-mode", "legacy"},
	}
	for name, args := range loads {
		t.Run(name, func(t *testing.T) {
			fw, peer := firewallAndPeer(t, "mark")
			code, _, stderr := ksc(append([]string{"apply", policy, "--netns", fw.Name}, args...)...)
			require.Equal(t, 0, code, stderr)
			for port, want := range map[int]int64{9: 0, 10: 0, 11: 3} {
				addr := net.JoinHostPort("192.0.2.9", fmt.Sprint(port))
				arrived := countUDP(t, peer, addr)
				sendUDP(t, fw, addr, 3)
				assert.Equal(t, want, arrived.Load(), "port %d", port)
			}
		})
	}
}

// testLoader loads a policy into a namespace one way: nft -f of the nft
// target, ksc apply through netlink, or iptables-restore in either mode.
type testLoader struct {
	name string
	load func(t *testing.T, fw *labtest.NS)
}

// everyLoader lists the four ways to load the policy file at path.
func everyLoader(path string) []testLoader {
	apply := func(args ...string) func(t *testing.T, fw *labtest.NS) {
		return func(t *testing.T, fw *labtest.NS) {
			code, _, stderr := ksc(append([]string{"apply", path, "--netns", fw.Name}, args...)...)
			require.Equal(t, 0, code, stderr)
		}
	}
	return []testLoader{
		{"nft -f", func(t *testing.T, fw *labtest.NS) {
			code, text, stderr := ksc("compile", path, "-t", "nft")
			require.Equal(t, 0, code, stderr)
			out, err := fw.ExecInput(text, "nft", "-f", "-")
			require.NoError(t, err, out)
		}},
		{"netlink", apply()},
		{"iptables-nft", apply("--backend", "iptables", "--iptables-mode", "nft")},
		{"iptables-legacy", apply("--backend", "iptables", "--iptables-mode", "legacy")},
	}
}

// firewallAndPeer makes a firewall namespace (192.0.2.1 on eth0) joined
// to a peer (192.0.2.9 on its eth0).
func firewallAndPeer(t *testing.T, role string) (fw, peer *labtest.NS) {
	t.Helper()
	fw, peer = labtest.NewNS(t, role), labtest.NewNS(t, "peer")
	labtest.Veth(t, fw, "eth0", peer, "eth0")
	fw.Exec(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "eth0")
	peer.Exec(t, "ip", "addr", "add", "192.0.2.9/24", "dev", "eth0")
	return fw, peer
}

// countUDP counts the datagrams that reach addr in ns, until the test ends.
func countUDP(t *testing.T, ns *labtest.NS, addr string) *atomic.Int64 {
	t.Helper()
	var arrived atomic.Int64
	var listener net.PacketConn
	require.NoError(t, ns.Do(func() (err error) {
		listener, err = net.ListenPacket("udp", addr)
		return err
	}))
	t.Cleanup(func() { listener.Close() })
	go func() {
		buf := make([]byte, 16)
		for {
			if _, _, err := listener.ReadFrom(buf); err != nil {
				return
			}
			arrived.Add(1)
		}
	}()
	return &arrived
}

// sendUDP sends n datagrams from ns to addr, and gives them time to
// arrive. A datagram the firewall drops is a verdict, not an error.
func sendUDP(t *testing.T, ns *labtest.NS, addr string, n int) {
	t.Helper()
	sendUDPFrom(t, ns, "", addr, n)
}

// meterPolicy keeps a rate limit for each source: a burst of 3 IPv4
// datagrams, and for IPv6 a drop of what is over a burst of 2.
const meterPolicy = `flush ruleset
table inet t {
	set per4 { type ipv4_addr; flags dynamic; }
	set per6 { type ipv6_addr; size 16; flags dynamic; timeout 1h; }
	chain c hook input policy drop {
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		udp dport 9 update @per4 { ip saddr limit rate 1/minute burst 3 packets } accept
		udp dport 9 update @per6 { ip6 saddr limit rate over 1/minute burst 2 packets } drop
		udp dport 9 meta nfproto ipv6 accept
	}
}
`

// A metered limit keeps one bucket for each source, on every loader (nft
// sets, iptables' hashlimit): a second source gets its own burst after
// the first has used up its own. What is loaded reads back as the policy.
func TestMeterLimitsEachSourceOnEveryLoader(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	useRunDir(t)
	policy := filepath.Join(t.TempDir(), "meter.ks")
	require.NoError(t, os.WriteFile(policy, []byte(meterPolicy), 0o644))
	loaders := map[string][]string{
		"netlink":         nil,
		"iptables-nft":    {"--backend", "iptables", "--iptables-mode", "nft"},
		"iptables-legacy": {"--backend", "iptables", "--iptables-mode", "legacy"},
	}
	for name, args := range loaders {
		t.Run(name, func(t *testing.T) {
			fw, peer := labtest.NewNS(t, "meter"), labtest.NewNS(t, "peer")
			labtest.Veth(t, fw, "eth0", peer, "eth0")
			fw.Exec(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "eth0")
			fw.Exec(t, "ip", "addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad")
			for _, a := range []string{"192.0.2.9/24", "192.0.2.10/24"} {
				peer.Exec(t, "ip", "addr", "add", a, "dev", "eth0")
			}
			for _, a := range []string{"2001:db8::9/64", "2001:db8::10/64"} {
				peer.Exec(t, "ip", "addr", "add", a, "dev", "eth0", "nodad")
			}
			code, _, stderr := ksc(append([]string{"apply", policy, "--netns", fw.Name}, args...)...)
			require.Equal(t, 0, code, stderr)

			arrived4 := countUDP(t, fw, "192.0.2.1:9")
			sendUDPFrom(t, peer, "192.0.2.9", "192.0.2.1:9", 8)
			assert.Equal(t, int64(3), arrived4.Load(), "the first source's burst")
			sendUDPFrom(t, peer, "192.0.2.10", "192.0.2.1:9", 8)
			assert.Equal(t, int64(6), arrived4.Load(), "the second source has a burst of its own")

			arrived6 := countUDP(t, fw, "[2001:db8::1]:9")
			sendUDPFrom(t, peer, "2001:db8::9", "[2001:db8::1]:9", 8)
			assert.Equal(t, int64(2), arrived6.Load(), "what is over the first source's burst is dropped")
			sendUDPFrom(t, peer, "2001:db8::10", "[2001:db8::1]:9", 8)
			assert.Equal(t, int64(4), arrived6.Load(), "the second source has a burst of its own")

			code, out, stderr := ksc(append([]string{"status", policy, "--netns", fw.Name}, args...)...)
			assert.Equal(t, 0, code, "status after traffic filled the sets:\n%s%s", out, stderr)
		})
	}
}

// sendUDPFrom is sendUDP from one of ns's addresses (any, when empty).
func sendUDPFrom(t *testing.T, ns *labtest.NS, from, to string, n int) {
	t.Helper()
	require.NoError(t, ns.Do(func() error {
		raddr, err := net.ResolveUDPAddr("udp", to)
		if err != nil {
			return err
		}
		var laddr *net.UDPAddr
		if from != "" {
			laddr = &net.UDPAddr{IP: net.ParseIP(from)}
		}
		conn, err := net.DialUDP("udp", laddr, raddr)
		if err != nil {
			return err
		}
		defer conn.Close()
		for range n {
			conn.Write([]byte("x"))
		}
		return nil
	}))
	time.Sleep(200 * time.Millisecond)
}

// runtimeSetPolicy lets out only what goes to the addresses of a set that
// another program may change once it is loaded.
const runtimeSetPolicy = `flush ruleset
table inet t {
	set ALLOWED {
		type ipv4_addr
		flags interval
		elements = { 192.0.2.9 }
	}
	chain c hook output policy drop {
		ip daddr @ALLOWED udp dport 9 accept
	}
}
`

// A declared set is the kernel's once loaded: an element another program
// adds (nft add element, ipset add) takes effect at once, on every loader,
// and status and diff still find the policy as it was loaded.
func TestDeclaredSetsChangeAtRuntime(t *testing.T) {
	labtest.Require(t, "nft", "ipset", "iptables-nft-restore", "iptables-legacy-restore")
	useRunDir(t)
	policy := filepath.Join(t.TempDir(), "runtime.ks")
	require.NoError(t, os.WriteFile(policy, []byte(runtimeSetPolicy), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		add  []string
	}{
		{"netlink", nil, []string{"nft", "add", "element", "inet", "t", "ALLOWED", "{ 192.0.2.10 }"}},
		{"iptables-nft", []string{"--backend", "iptables", "--iptables-mode", "nft"}, []string{"ipset", "add", "ksc-ALLOWED-4", "192.0.2.10"}},
		{"iptables-legacy", []string{"--backend", "iptables", "--iptables-mode", "legacy"}, []string{"ipset", "add", "ksc-ALLOWED-4", "192.0.2.10"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fw, peer := firewallAndPeer(t, "sets")
			peer.Exec(t, "ip", "addr", "add", "192.0.2.10/24", "dev", "eth0")
			code, _, stderr := ksc(append([]string{"apply", policy, "--netns", fw.Name}, tc.args...)...)
			require.Equal(t, 0, code, stderr)

			declared, added := countUDP(t, peer, "192.0.2.9:9"), countUDP(t, peer, "192.0.2.10:9")
			sendUDP(t, fw, "192.0.2.9:9", 2)
			sendUDP(t, fw, "192.0.2.10:9", 2)
			assert.Equal(t, int64(2), declared.Load(), "a declared element")
			assert.Equal(t, int64(0), added.Load(), "not in the set yet")

			fw.Exec(t, tc.add...)
			sendUDP(t, fw, "192.0.2.10:9", 2)
			assert.Equal(t, int64(2), added.Load(), "an element added at runtime")

			for _, cmd := range []string{"status", "diff"} {
				code, out, stderr := ksc(append([]string{cmd, policy, "--netns", fw.Name}, tc.args...)...)
				assert.Equal(t, 0, code, "%s after the set changed:\n%s%s", cmd, out, stderr)
			}
		})
	}
}

// routePolicy marks what goes to port 9 in a chain of the given type.
const routePolicy = `flush ruleset
table inet t {
	chain ROUTE type %s hook output priority mangle policy accept {
		udp dport 9 meta mark set 0x1
	}
}
`

// A route chain's mark routes the packet again, on every loader: with "ip
// rule fwmark 0x1" to a table of its own, the marked datagram leaves by
// the other interface. The same mark set in a filter chain does not.
func TestRouteChainRoutesMarkedPacketsAgain(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	useRunDir(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, chainType string
		args            []string
		rerouted        bool
	}{
		{"netlink", "route", nil, true},
		{"iptables-nft", "route", []string{"--backend", "iptables", "--iptables-mode", "nft"}, true},
		{"iptables-legacy", "route", []string{"--backend", "iptables", "--iptables-mode", "legacy"}, true},
		{"a filter chain does not", "filter", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			policy := filepath.Join(dir, tc.chainType+".ks")
			require.NoError(t, os.WriteFile(policy, []byte(fmt.Sprintf(routePolicy, tc.chainType)), 0o644))
			fw, main, marked := labtest.NewNS(t, "route"), labtest.NewNS(t, "main"), labtest.NewNS(t, "marked")
			labtest.Veth(t, fw, "eth0", main, "eth0")
			labtest.Veth(t, fw, "eth1", marked, "eth0")
			fw.Exec(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "eth0")
			fw.Exec(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "eth1")
			main.Exec(t, "ip", "addr", "add", "192.0.2.9/24", "dev", "eth0")
			marked.Exec(t, "ip", "addr", "add", "198.51.100.9/24", "dev", "eth0")
			for _, peer := range []*labtest.NS{main, marked} {
				peer.Exec(t, "ip", "addr", "add", "203.0.113.5/32", "dev", "lo")
			}
			fw.Exec(t, "ip", "route", "add", "203.0.113.5/32", "via", "192.0.2.9", "dev", "eth0")
			fw.Exec(t, "ip", "route", "add", "203.0.113.5/32", "via", "198.51.100.9", "dev", "eth1", "table", "100")
			fw.Exec(t, "ip", "rule", "add", "fwmark", "0x1", "lookup", "100")
			for _, peer := range []*labtest.NS{main, marked} {
				peer.Exec(t, "ip", "route", "add", "default", "dev", "eth0") // replies, if any
				peer.Exec(t, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.eth0.rp_filter=0")
			}
			code, _, stderr := ksc(append([]string{"apply", policy, "--netns", fw.Name}, tc.args...)...)
			require.Equal(t, 0, code, stderr)

			viaMain, viaMarked := countUDP(t, main, "203.0.113.5:9"), countUDP(t, marked, "203.0.113.5:9")
			sendUDP(t, fw, "203.0.113.5:9", 3)
			if tc.rerouted {
				assert.Equal(t, [2]int64{0, 3}, [2]int64{viaMain.Load(), viaMarked.Load()}, "the marked datagrams left by eth1")
			} else {
				assert.Equal(t, [2]int64{3, 0}, [2]int64{viaMain.Load(), viaMarked.Load()}, "a filter chain's mark routes nothing again")
			}
		})
	}
}

// negatedPortsPolicy drops what neither comes from port 2000 nor goes to
// port 1010: a datagram from 2011 to 1010 passes.
const negatedPortsPolicy = `flush ruleset
table inet t {
	chain c hook output policy accept {
		udp sport != 2000 udp dport != 1010 drop
	}
}
`

// nft 1.0.6 and iptables-nft 1.8.9 merge two negated port comparisons
// into one that holds when either port differs; ksc writes them so that
// they stay two, and the datagram that matches one of the ports passes on
// every loader (the differential test found it: seed 251908309).
func TestNegatedPortsStayApartOnEveryLoader(t *testing.T) {
	onEveryLoader(t, "ports", negatedPortsPolicy, func(t *testing.T, fw, peer *labtest.NS) {
		arrived := countUDP(t, peer, "192.0.2.9:1010")
		require.NoError(t, fw.Do(func() error {
			conn, err := net.DialUDP("udp", &net.UDPAddr{Port: 2011}, &net.UDPAddr{IP: net.ParseIP("192.0.2.9"), Port: 1010})
			if err != nil {
				return err
			}
			defer conn.Close()
			_, err = conn.Write([]byte("x"))
			return err
		}))
		assert.Eventually(t, func() bool { return arrived.Load() == 1 }, 2*time.Second, 20*time.Millisecond, "to port 1010 matches one of the two: it passes")
	})
}

// sharedMeterPolicy's one per-source limit becomes two iptables rules
// (one for each destination address).
const sharedMeterPolicy = `flush ruleset
table inet t {
	set per4 { type ipv4_addr; flags dynamic; }
	chain c hook input policy drop {
		udp dport 9 ip daddr { 192.0.2.1, 192.0.2.2 } update @per4 { ip saddr limit rate 1/minute burst 3 packets } accept
	}
}
`

// A per-key limit is one bucket for each key however many iptables rules
// it becomes: hashlimit rules of one name share their table. Three
// datagrams to each of two addresses from one source: the source's burst
// of 3 passes, and no more, on every loader.
func TestMeterSharedByTheRulesOfOneLimit(t *testing.T) {
	onEveryLoader(t, "meter", sharedMeterPolicy, func(t *testing.T, fw, peer *labtest.NS) {
		fw.Exec(t, "ip", "addr", "add", "192.0.2.2/24", "dev", "eth0")
		arrived1, arrived2 := countUDP(t, fw, "192.0.2.1:9"), countUDP(t, fw, "192.0.2.2:9")
		sendUDP(t, peer, "192.0.2.1:9", 3)
		sendUDP(t, peer, "192.0.2.2:9", 3)
		assert.Equal(t, int64(3), arrived1.Load(), "the burst, to the first address")
		assert.Equal(t, int64(0), arrived2.Load(), "the same source's bucket, empty for the second")
	})
}
