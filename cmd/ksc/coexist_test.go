package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// otherFirewalls are rules other programs keep in the filter table: a
// fail2ban ban on HTTPS and Docker's user chain.
var otherFirewalls = [][]string{
	{"-N", "f2b-https"},
	{"-A", "f2b-https", "-s", "192.0.2.66/32", "-j", "REJECT"},
	{"-A", "f2b-https", "-j", "RETURN"},
	{"-A", "INPUT", "-p", "tcp", "--dport", "443", "-j", "f2b-https"},
	{"-N", "DOCKER-USER"},
	{"-A", "DOCKER-USER", "-j", "RETURN"},
	{"-A", "FORWARD", "-j", "DOCKER-USER"},
}

// A policy without "flush ruleset" lives in ksc's own chains with the
// iptables backend, beside other programs' rules: an apply, a re-apply and
// a remove leave those rules as they were, and packets meet both (the
// policy's accept does not skip a fail2ban ban).
func TestIptablesBesideOtherFirewalls(t *testing.T) {
	labtest.Require(t, "iptables-legacy-restore", "iptables-nft-restore")
	useRunDir(t)
	for _, mode := range []string{"legacy", "nft"} {
		t.Run(mode, func(t *testing.T) {
			fw, peer := labtest.NewNS(t, "coexist"), labtest.NewNS(t, "peer")
			labtest.Veth(t, fw, "eth0", peer, "eth0")
			fw.Exec(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "eth0")
			for _, a := range []string{"192.0.2.10/24", "192.0.2.66/24"} {
				peer.Exec(t, "ip", "addr", "add", a, "dev", "eth0")
			}
			ipt := "iptables-" + mode
			for _, rule := range otherFirewalls {
				fw.Exec(t, append([]string{ipt}, rule...)...)
			}
			others := func() string {
				var keep []string
				for _, l := range strings.Split(fw.Exec(t, ipt+"-save", "-t", "filter"), "\n") {
					if !strings.Contains(l, "KSC-") && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, ":") {
						keep = append(keep, strings.Split(l, " [")[0])
					}
				}
				return strings.Join(keep, "\n")
			}
			before := others()
			apply := []string{"apply", server, "--backend", "iptables", "--iptables-mode", mode, "--netns", fw.Name}
			for range 2 { // the second apply must not add a second jump
				code, _, stderr := ksc(apply...)
				require.Equal(t, 0, code, stderr)
			}
			saved := fw.Exec(t, ipt+"-save", "-t", "filter")
			assert.Equal(t, before, others(), "other programs' rules are untouched")
			assert.Equal(t, 1, strings.Count(saved, "-A INPUT -j KSC-INPUT\n"), saved)
			assert.Contains(t, saved, ":INPUT ACCEPT", "the builtin chain's own policy is not the policy's to change")
			code, stdout, _ := ksc("status", server, "--backend", "iptables", "--iptables-mode", mode, "--netns", fw.Name)
			assert.Equal(t, 0, code, stdout)

			probe := func(src, dst string) labtest.Outcome {
				out, err := labtest.Probe{Proto: "tcp", From: peer, Src: netip.MustParseAddr(src), To: fw, Dst: netip.MustParseAddrPort(dst)}.Run()
				require.NoError(t, err)
				return out
			}
			assert.Equal(t, labtest.Answered, probe("192.0.2.10", "192.0.2.1:443"), "HTTPS for everyone")
			assert.Equal(t, labtest.Blocked, probe("192.0.2.66", "192.0.2.1:443"), "fail2ban's ban still holds after the policy's accept")
			assert.Equal(t, labtest.Answered, probe("192.0.2.10", "192.0.2.1:22"), "SSH for the admin")
			assert.Equal(t, labtest.Blocked, probe("192.0.2.66", "192.0.2.1:22"), "the policy's drop")

			// A restart of another program (Docker's) inserts its rules
			// above the jump into ksc's chain: they decide first. Status
			// says so, and an apply puts the jump first again.
			fw.Exec(t, ipt, "-I", "INPUT", "1", "-p", "tcp", "--dport", "22", "-j", "ACCEPT")
			assert.Equal(t, labtest.Answered, probe("192.0.2.66", "192.0.2.1:22"), "the inserted accept decides before ksc's chain")
			code, stdout, _ = ksc("status", server, "--backend", "iptables", "--iptables-mode", mode, "--netns", fw.Name)
			assert.Equal(t, 1, code, stdout)
			assert.Contains(t, stdout, "-I INPUT 2 -j KSC-INPUT")
			code, _, stderr := ksc(apply...)
			require.Equal(t, 0, code, stderr)
			assert.True(t, strings.HasPrefix(strings.Split(fw.Exec(t, ipt, "-S", "INPUT"), "\n")[1], "-A INPUT -j KSC-INPUT"), "the jump is first again")
			assert.Equal(t, labtest.Blocked, probe("192.0.2.66", "192.0.2.1:22"), "the policy's drop, first again")
			code, stdout, _ = ksc("status", server, "--backend", "iptables", "--iptables-mode", mode, "--netns", fw.Name)
			assert.Equal(t, 0, code, stdout)
			fw.Exec(t, ipt, "-D", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT")

			code, _, stderr = ksc("remove", server, "--backend", "iptables", "--iptables-mode", mode, "--netns", fw.Name)
			require.Equal(t, 0, code, stderr)
			assert.NotContains(t, fw.Exec(t, ipt+"-save", "-t", "filter"), "KSC-")
			assert.Equal(t, before, others(), "remove leaves other programs' rules")
		})
	}
}

// dockerNAT are the nat rules Docker keeps: its DNAT chain for published
// ports and the masquerade of its containers' network.
var dockerNAT = [][]string{
	{"-t", "nat", "-N", "DOCKER"},
	{"-t", "nat", "-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER"},
	{"-t", "nat", "-A", "DOCKER", "-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", "172.17.0.2:80"},
	{"-t", "nat", "-A", "POSTROUTING", "-s", "172.17.0.0/16", "!", "-o", "docker0", "-j", "MASQUERADE"},
}

// A router's policy without "flush ruleset" keeps its nat chain in ksc's
// own chain of iptables' nat table, beside Docker's: the LAN reaches the
// far side only through ksc's masquerade (the far side has no route back),
// a re-apply adds no second jump, and remove takes ksc's chains out of
// both tables and leaves Docker's rules.
func TestIptablesNATBesideDocker(t *testing.T) {
	labtest.Require(t, "iptables-legacy-restore", "iptables-nft-restore")
	useRunDir(t)
	policy := filepath.Join(t.TempDir(), "router.ks")
	require.NoError(t, os.WriteFile(policy, []byte(`table ip router {
	chain srcnat type nat hook postrouting priority srcnat {
		oifname "eth0" masquerade
	}
	chain through hook forward policy drop {
		ct state established,related accept
		iifname "eth1" oifname "eth0" accept
	}
}
`), 0o644))
	for _, mode := range []string{"legacy", "nft"} {
		t.Run(mode, func(t *testing.T) {
			fw, far, lan := labtest.NewNS(t, "natfw"), labtest.NewNS(t, "far"), labtest.NewNS(t, "lan")
			labtest.Veth(t, fw, "eth0", far, "eth0")
			labtest.Veth(t, fw, "eth1", lan, "eth0")
			fw.Exec(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "eth0")
			fw.Exec(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "eth1")
			fw.Exec(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
			far.Exec(t, "ip", "addr", "add", "198.51.100.7/24", "dev", "eth0")
			lan.Exec(t, "ip", "addr", "add", "192.0.2.10/24", "dev", "eth0")
			lan.Exec(t, "ip", "route", "add", "default", "via", "192.0.2.1")
			ipt := "iptables-" + mode
			for _, rule := range dockerNAT {
				fw.Exec(t, append([]string{ipt}, rule...)...)
			}
			docker := func() string {
				var keep []string
				for _, l := range strings.Split(fw.Exec(t, ipt+"-save", "-t", "nat"), "\n") {
					if !strings.Contains(l, "KSC-") && !strings.HasPrefix(l, "#") {
						keep = append(keep, strings.Split(l, " [")[0])
					}
				}
				return strings.Join(keep, "\n")
			}
			before := docker()
			probe := func() labtest.Outcome {
				out, err := labtest.Probe{Proto: "tcp", From: lan, Src: netip.MustParseAddr("192.0.2.10"), To: far, Dst: netip.MustParseAddrPort("198.51.100.7:443")}.Run()
				require.NoError(t, err)
				return out
			}
			require.Equal(t, labtest.Blocked, probe(), "without the policy's masquerade the far side cannot answer")

			apply := []string{"apply", policy, "--backend", "iptables", "--iptables-mode", mode, "--netns", fw.Name}
			for range 2 { // the second apply must not add a second jump
				code, _, stderr := ksc(apply...)
				require.Equal(t, 0, code, stderr)
			}
			nat := fw.Exec(t, ipt+"-save", "-t", "nat")
			assert.Equal(t, 1, strings.Count(nat, "-A POSTROUTING -j KSC-POSTROUTING\n"), nat)
			assert.Contains(t, nat, "-A KSC-POSTROUTING -o eth0 -j MASQUERADE\n")
			assert.Equal(t, before, docker(), "Docker's nat rules are untouched")
			assert.Equal(t, labtest.Answered, probe(), "the LAN leaves by ksc's masquerade")
			code, stdout, _ := ksc("status", policy, "--backend", "iptables", "--iptables-mode", mode, "--netns", fw.Name)
			assert.Equal(t, 0, code, stdout)

			code, _, stderr := ksc("remove", policy, "--backend", "iptables", "--iptables-mode", mode, "--netns", fw.Name)
			require.Equal(t, 0, code, stderr)
			assert.NotContains(t, fw.Exec(t, ipt+"-save"), "KSC-")
			assert.Equal(t, before, docker(), "remove leaves Docker's nat rules")
			assert.Equal(t, labtest.Blocked, probe(), "no masquerade once the policy is removed")
		})
	}
}
