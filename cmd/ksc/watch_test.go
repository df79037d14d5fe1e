package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksc-project/ksc/internal/netlab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// "ksc watch" puts the policy back after another program removes it, with
// either backend, and stops cleanly on SIGTERM.
func TestWatchCommand(t *testing.T) {
	netlab.Require(t, "nft", "iptables-legacy-restore")
	exe, err := os.Executable()
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		policy  string
		args    []string
		remove  [][]string // what another program does
		present func(ns *netlab.NS) bool
	}{
		{"nft", server, nil, [][]string{{"nft", "flush", "ruleset"}}, func(ns *netlab.NS) bool {
			out, _ := ns.ExecInput("", "nft", "list", "ruleset")
			return strings.Contains(out, "tcp dport 443 accept")
		}},
		{"iptables", "../../examples/ivpn-iptables.ks", []string{"--backend", "iptables", "--iptables-mode", "legacy", "--interval", "100ms"},
			[][]string{{"iptables-legacy", "-F"}, {"iptables-legacy", "-P", "OUTPUT", "ACCEPT"}}, func(ns *netlab.NS) bool {
				out, _ := ns.ExecInput("", "iptables-legacy-save", "-t", "filter")
				return strings.Contains(out, "-A OUTPUT -o tun0 -j ACCEPT") && strings.Contains(out, ":OUTPUT DROP")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := netlab.NewNS(t, "watchcli")
			watch := exec.Command(exe, append([]string{"watch", tc.policy, "--netns", ns.Name}, tc.args...)...)
			watch.Args[0] = "ksc"
			var stderr strings.Builder
			watch.Stderr = &stderr
			require.NoError(t, watch.Start())
			t.Cleanup(func() { watch.Process.Kill(); watch.Wait() })
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
