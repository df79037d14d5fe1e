package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksc-project/ksc/cgroup"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/routing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// splitCounting counts, on the internet's side, each application's
// datagrams by the interface they arrive on: A sends to port 9001, B to
// port 9002.
const splitCounting = `table inet split {
	chain pre {
		type filter hook prerouting priority -400; policy accept;
		iifname "lan0" udp dport 9001 counter comment "A via eth0"
		iifname "TUNNEL" udp dport 9001 counter comment "A via tunnel"
		iifname "lan0" udp dport 9002 counter comment "B via eth0"
		iifname "TUNNEL" udp dport 9002 counter comment "B via tunnel"
	}
}
`

// splitFlaps is how many times the tunnel drops and comes back while
// the applications send.
const splitFlaps = 1000

// Exclusive split tunnelling with a real WireGuard tunnel, on every
// loader: application A (in a cgroup of its own, which the policy does
// not name) reaches the internet only through the tunnel (it does before
// the tunnel starts to flap; how much of it gets through while the
// tunnel flaps is wireguard-go's handshakes'), application B
// (in the bypass cgroup) only by eth0, as the bypass mark's routing
// sends it. While both send about a thousand datagrams a second, the
// tunnel drops and comes back splitFlaps times (its link down, which
// takes its routes with it, and up with them again, as a VPN client
// reconnecting does): not one of A's datagrams may arrive by eth0, which
// the main table's default route leads to whenever the tunnel's routes
// are gone.
func TestSplitTunnelHoldsWhileTheTunnelFlaps(t *testing.T) {
	for i, loader := range loaders {
		t.Run(loader.name, func(t *testing.T) {
			labtest.Require(t, append([]string{"bash"}, loader.tools...)...)
			l := newWGLab(t)
			out, err := l.inet.ExecInput(strings.ReplaceAll(splitCounting, `"TUNNEL"`, strconv.Quote(l.serverIf)), "nft", "-f", "-")
			require.NoError(t, err, out)
			base := fmt.Sprintf("ksc-e2e%d.slice", os.Getpid()%100000)
			bypass := fmt.Sprintf("%s/ksc-e2e%d-bypass%d.slice", base, os.Getpid()%100000, i)
			apps := fmt.Sprintf("%s/apps%d", base, i)
			p := l.split(t, bypass)
			labtest.CgroupPaths(t, bypass, apps)
			loader.load(t, l.client, p)
			// The policy's routing, after its rules (as ksc apply does
			// with either backend): the bypass mark's table goes by eth0,
			// whatever the tunnel.
			c := l.client
			require.NoError(t, routing.Check(c.Path(), p.Routing))
			require.NoError(t, routing.Apply(c.Path(), p.Routing))

			disconnect := l.connect(t)
			defer disconnect()
			stopA := l.sendFrom(t, apps, 9001)
			stopB := l.sendFrom(t, bypass, 9002)
			// A reaches the internet through the tunnel before it flaps.
			require.Eventually(t, func() bool { return countsOf(t, l.inet, "split")["A via tunnel"] > 0 }, 15*time.Second, 50*time.Millisecond,
				"A reaches nothing through the tunnel")
			start := time.Now()
			for n := 0; n < splitFlaps; n++ {
				c.Exec(t, "ip", "link", "set", l.clientIf, "down")
				c.Exec(t, "ip", "link", "set", l.clientIf, "up")
				c.Exec(t, "ip", "route", "replace", "0.0.0.0/1", "dev", l.clientIf)
				c.Exec(t, "ip", "route", "replace", "128.0.0.0/1", "dev", l.clientIf)
			}
			elapsed := time.Since(start)
			sentA, sentB := stopA(), stopB()
			arrived := l.splitCounts(t)
			t.Logf("%d flaps in %v; A sent %d, B sent %d; arrived: %v", splitFlaps, elapsed.Round(time.Millisecond), sentA, sentB, arrived)
			assert.Zero(t, arrived["A via eth0"], "A's datagrams went around the tunnel")
			assert.NotZero(t, arrived["B via eth0"], "B reaches the internet around the tunnel")
			assert.Zero(t, arrived["B via tunnel"], "B's datagrams went through the tunnel")
		})
	}
}

// split compiles examples/split-exclusive.ks for this lab, with bypass
// as its bypass cgroup (and its own routing table, by the router at
// 192.0.2.1 on eth0).
func (l *wgLab) split(t *testing.T, bypass string) *ir.Policy {
	src, err := os.ReadFile(filepath.Join(golden.Root(t), "examples", "split-exclusive.ks"))
	require.NoError(t, err)
	cfg := lang.Config{Defines: []lang.Override{
		{Name: "VPN_SERVERS", Value: "198.51.100.1"}, {Name: "WG_PORT", Value: "51820"},
		{Name: "VPN_DEV", Value: strconv.Quote(l.clientIf)}, {Name: "LAN_DEV", Value: `"eth0"`},
		{Name: "BYPASS", Value: strconv.Quote(bypass)},
	}}
	p, ds := lang.Load("split-exclusive.ks", src, cfg)
	require.False(t, ds.HasErrors(), "%v", ds)
	return p
}

// sendFrom starts a program in the client's namespace and in the cgroup
// at path that sends a datagram to 203.0.113.80:port about every
// millisecond, from one connected socket, as an application would; the
// returned function stops it and says how many it sent.
func (l *wgLab) sendFrom(t *testing.T, path string, port int) (stop func() int) {
	count := filepath.Join(l.dir, fmt.Sprintf("sent-%d", port))
	script := fmt.Sprintf(`exec 3<>/dev/udp/203.0.113.80/%d || exit 1
n=0
trap 'echo $n > %s; exit 0' TERM
while :; do echo x >&3 2>/dev/null; echo x >&3 2>/dev/null; echo x >&3 2>/dev/null; n=$((n+3)); sleep 0.001; done`, port, count)
	cmd := exec.Command("nsenter", "--net="+nsenter.Path(l.client.Name), "--", "bash", "-c", script)
	done, err := cgroup.Into(cmd, path)
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	done()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	})
	return func() int {
		stopped = true
		// bash runs its TERM trap once the sleep it waits for ends.
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Fatalf("the sender in %s did not stop", path)
		}
		data, err := os.ReadFile(count)
		require.NoError(t, err)
		n, err := strconv.Atoi(strings.TrimSpace(string(data)))
		require.NoError(t, err)
		return n
	}
}

// splitCounts reads the internet's counts of each application's
// datagrams by where they arrived.
func (l *wgLab) splitCounts(t *testing.T) map[string]uint64 {
	time.Sleep(200 * time.Millisecond) // the last datagrams in flight
	out := countsOf(t, l.inet, "split")
	require.Len(t, out, 4)
	return out
}
