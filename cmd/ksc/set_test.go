package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allowedDNS lets out only DNS to the servers of a set a VPN client
// changes at runtime.
const allowedDNS = `table inet dns {
	set servers {
		type ipv4_addr
		flags interval
		elements = { 198.51.100.53 }
	}

	chain output hook output priority filter policy drop {
		ct state established,related accept
		oifname "lo" accept
		ip daddr @servers udp dport 53 accept
	}
}
`

// ksc set adds a server to a set in force and deletes it again, with
// either backend: the flow to it starts once it is in, and is closed once
// it is out (not left to go on through ct state established accept); a
// running ksc watch leaves the set as ksc set made it.
func TestSetChangesASetInForce(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "ipset")
	policy := filepath.Join(t.TempDir(), "dns.ks")
	require.NoError(t, os.WriteFile(policy, []byte(allowedDNS), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		held func(ns *labtest.NS) string
	}{
		{"nft", nil, func(ns *labtest.NS) string { return ns.Exec(t, "nft", "list", "set", "inet", "dns", "servers") }},
		{"iptables", []string{"--backend", "iptables", "--iptables-mode", "nft"}, func(ns *labtest.NS) string {
			return ns.Exec(t, "ipset", "save", "ksc-servers-4")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			useRunDir(t)
			client, server := clientAndServer(t)
			set := func(args ...string) (int, string, string) {
				return ksc(append(append(append([]string{"set"}, args[0], policy, "servers"), args[1:]...), append([]string{"--netns", client.Name}, tc.args...)...)...)
			}
			code, _, stderr := ksc(append([]string{"apply", policy, "--netns", client.Name}, tc.args...)...)
			require.Equal(t, 0, code, stderr)

			watch, watched := startWatch(t, append([]string{policy, "--netns", client.Name, "--interval", "100ms"}, tc.args...)...)

			code, stdout, stderr := set("add", "203.0.113.53")
			require.Equal(t, 0, code, stderr)
			assert.Equal(t, "servers: { 198.51.100.53, 203.0.113.53 }\n", stdout)
			flow := startUDPFlow(t, client, server)
			time.Sleep(300 * time.Millisecond) // a few of watch's checks
			assert.Contains(t, tc.held(client), "203.0.113.53", "watch put the policy's set back")

			code, stdout, stderr = set("delete", "203.0.113.53")
			require.Equal(t, 0, code, stderr)
			assert.Equal(t, "servers: { 198.51.100.53 }\n", stdout)
			assert.Contains(t, stderr, "ksc set: closed 1 connections the policy would not let start (--keep-connections keeps them):\n"+
				"  out eth0 udp 192.0.2.2:40000 203.0.113.53:53\n")
			time.Sleep(50 * time.Millisecond)
			assert.Zero(t, flow.during(), "the flow to the server taken out goes on")
			assert.NotContains(t, tc.held(client), "203.0.113.53")

			code, _, stderr = set("delete", "203.0.113.53")
			assert.Equal(t, 1, code)
			assert.Contains(t, stderr, "ksc set: set servers holds no 203.0.113.53")
			code, _, stderr = set("add", "2001:db8::53")
			assert.Equal(t, 1, code)
			assert.Contains(t, stderr, "set servers needs IPv4 addresses")

			require.NoError(t, watch.Process.Signal(syscall.SIGTERM))
			require.NoError(t, watch.Wait(), watched.String())
			assert.NotContains(t, watched.String(), "put the policy back", "the set's changes are not the policy undone")
		})
	}
}
