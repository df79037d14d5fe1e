package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksc-project/ksc/enforce"

	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// "ksc watch" puts the policy back after another program removes it, with
// either backend, and stops cleanly on SIGTERM.
func TestWatchCommand(t *testing.T) {
	labtest.Require(t, "nft", "iptables-legacy-restore")
	for _, tc := range []struct {
		name    string
		policy  string
		args    []string
		remove  [][]string // what another program does
		present func(ns *labtest.NS) bool
	}{
		{"nft", server, nil, [][]string{{"nft", "flush", "ruleset"}}, func(ns *labtest.NS) bool {
			out, _ := ns.ExecInput("", "nft", "list", "ruleset")
			return strings.Contains(out, "tcp dport 443 accept")
		}},
		{"iptables", "../../examples/ivpn-iptables.ks", []string{"--backend", "iptables", "--iptables-mode", "legacy", "--interval", "100ms"},
			[][]string{{"iptables-legacy", "-F"}, {"iptables-legacy", "-P", "OUTPUT", "ACCEPT"}}, func(ns *labtest.NS) bool {
				out, _ := ns.ExecInput("", "iptables-legacy-save", "-t", "filter")
				return strings.Contains(out, "-A OUTPUT -o tun0 -j ACCEPT") && strings.Contains(out, ":OUTPUT DROP")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			useRunDir(t)
			ns := labtest.NewNS(t, "watchcli")
			watch, stderr := startWatch(t, append([]string{tc.policy, "--netns", ns.Name}, tc.args...)...)
			require.Eventually(t, func() bool { return tc.present(ns) }, 10*time.Second, 20*time.Millisecond, "not put in place at the start")
			for _, cmd := range tc.remove {
				ns.Exec(t, cmd...)
			}
			require.Eventually(t, func() bool { return tc.present(ns) }, 10*time.Second, 20*time.Millisecond, "not put back")
			require.NoError(t, watch.Process.Signal(syscall.SIGTERM))
			require.NoError(t, watch.Wait(), stderr.String())
			assert.Contains(t, stderr.String(), "put the policy back")
		})
	}
}

// A running watch keeps what ksc last put in force: the policy of a later
// "ksc apply" (it once put its own back 8 ms after), and nothing after
// "ksc remove" (which it undid 2 ms after); a foreign flush is then
// repaired with what is in force.
func TestWatchFollowsApplyAndRemove(t *testing.T) {
	labtest.Require(t, "nft")
	useRunDir(t)
	ns := labtest.NewNS(t, "watchfollow")
	list := func() string { out, _ := ns.ExecInput("", "nft", "list", "ruleset"); return out }
	watch, stderr := startWatch(t, server, "--netns", ns.Name)
	require.Eventually(t, func() bool { return strings.Contains(list(), "tcp dport 443 accept") }, 10*time.Second, 20*time.Millisecond)

	code, _, errOut := ksc("apply", server, "-e", "http", "--netns", ns.Name)
	require.Equal(t, 0, code, errOut)
	time.Sleep(500 * time.Millisecond)
	assert.Contains(t, list(), "tcp dport 80 accept", "watch put its own policy back over the one applied: %s", stderr.String())

	code, _, errOut = ksc("remove", server, "--netns", ns.Name)
	require.Equal(t, 0, code, errOut)
	time.Sleep(500 * time.Millisecond)
	assert.NotContains(t, list(), "table inet server", "watch undid ksc remove: %s", stderr.String())

	code, _, errOut = ksc("apply", server, "--netns", ns.Name)
	require.Equal(t, 0, code, errOut)
	ns.Exec(t, "nft", "flush", "ruleset")
	require.Eventually(t, func() bool { return strings.Contains(list(), "tcp dport 443 accept") }, 10*time.Second, 20*time.Millisecond,
		"watch did not repair after following: %s", stderr.String())
	assert.NotContains(t, list(), "tcp dport 80 accept")
	require.NoError(t, watch.Process.Signal(syscall.SIGTERM))
	require.NoError(t, watch.Wait(), stderr.String())
	assert.Contains(t, stderr.String(), "took the policy away")
}

// startWatch runs "ksc watch ARGS..." as a process of its own, with this
// test's run directory, until the test ends; its standard error is
// collected.
func startWatch(t *testing.T, args ...string) (*exec.Cmd, *strings.Builder) {
	exe, err := os.Executable()
	require.NoError(t, err)
	watch := exec.Command(exe, append([]string{"watch"}, args...)...)
	watch.Args[0] = "ksc"
	watch.Env = append(os.Environ(), "KSC_TEST_RUN_DIR="+enforce.RunDir)
	stderr := &strings.Builder{}
	watch.Stderr = stderr
	require.NoError(t, watch.Start())
	t.Cleanup(func() { watch.Process.Kill(); watch.Wait() })
	return watch, stderr
}

// "ksc watch" puts the policy's routing back too: a rule another program
// deleted, a route it changed.
func TestWatchPutsTheRoutingBack(t *testing.T) {
	labtest.Require(t, "nft")
	useRunDir(t)
	ns, policy := exclusiveSplit(t, "watchroute")
	routed := func() bool {
		now := ns.Routing(t, "7362")
		return strings.Contains(now, "fwmark 0x6b7362 lookup 7362 proto 107") && strings.HasSuffix(now, "\ndefault via 192.0.2.1 dev eth0 proto 107 \n")
	}
	watch, stderr := startWatch(t, policy, "--netns", ns.Name)
	require.Eventually(t, routed, 10*time.Second, 20*time.Millisecond, "not put in place at the start")
	ns.Exec(t, "ip", "rule", "del", "priority", "100")
	require.Eventually(t, routed, 10*time.Second, 20*time.Millisecond, "the rule not put back")
	ns.Exec(t, "ip", "route", "replace", "default", "via", "192.0.2.3", "dev", "eth0", "table", "7362", "proto", "107")
	require.Eventually(t, routed, 10*time.Second, 20*time.Millisecond, "the route not put back")
	require.NoError(t, watch.Process.Signal(syscall.SIGTERM))
	require.NoError(t, watch.Wait(), stderr.String())
	assert.Contains(t, stderr.String(), `+ routing ip rule fwmark 0x6b7362 priority 100 table 7362`)
}
