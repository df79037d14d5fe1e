package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const machineDir = "../../testdata/machine/"

// machineNS is a namespace holding the rules of testdata/machine that
// are not ksc's: Docker's (iptables-nft), fail2ban's, firewalld's,
// wg-quick's.
func machineNS(t *testing.T) *labtest.NS {
	labtest.Require(t, "nft", "iptables-nft-restore")
	ns := labtest.NewNS(t, "machine")
	rules, err := os.ReadFile(machineDir + "docker.rules")
	require.NoError(t, err)
	_, err = ns.ExecInput(string(rules), "iptables-nft-restore")
	require.NoError(t, err)
	ns.Exec(t, "nft", "-f", machineDir+"others.nft")
	return ns
}

// explain, test and check --live answer for the whole machine: other
// programs' rules decide, a rule ksc cannot read makes an answer
// unknown, and Docker's published port is reported as going around a
// host firewall that drops it (moby #22054).
func TestLiveCommandsReadTheWholeMachine(t *testing.T) {
	ns := machineNS(t)
	code, stdout, stderr := ksc("explain", "--live", "--netns", ns.Name, machineDir+"killswitch.ks", "in", "eth0", "tcp", "203.0.113.66:40000", "192.0.2.2:22")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "chain inet f2b-table f2b-chain (hook input, priority -1, policy accept):")
	assert.Regexp(t, `verdict: reject \(live:\d+:3\)`, stdout)

	_, stdout, _ = ksc("explain", "--live", "--netns", ns.Name, "in", "eth0", "tcp", "203.0.113.7:40000", "192.0.2.2:2222")
	assert.Regexp(t, `verdict: unknown, because ksc cannot read rule live:\d+:3 in table ip filter: iifname "eth0" tcp dport 2222 xt match recent`, stdout)

	// Docker's published port: where the machine's routes send the dnat's
	// address decides, delivered here or forwarded.
	published := []string{"explain", "--live", "--netns", ns.Name, "in", "eth0", "tcp", "203.0.113.7:40000", "192.0.2.2:8080"}
	_, stdout, _ = ksc(published...)
	assert.Contains(t, stdout, "verdict: drop\nassumes: the machine has no route to 198.51.100.2, where a dnat sent it: the kernel drops it\n")
	ns.Exec(t, "ip", "link", "add", "docker0", "type", "veth", "peer", "name", "d1")
	ns.Exec(t, "ip", "link", "set", "docker0", "up")
	ns.Exec(t, "ip", "addr", "add", "198.51.100.1/25", "dev", "docker0")
	_, stdout, _ = ksc(published...)
	assert.Regexp(t, `chain ip filter FORWARD \(hook forward, priority 0, policy drop\):\n(.*\n)*    live:\d+:3  iifname != "docker0" oifname "docker0" ip daddr 198.51.100.2 tcp dport 80 counter accept\n`, stdout)
	assert.Contains(t, stdout, "verdict: accept\nrouted: after the dnat the machine forwards it out of docker0\n")
	ns.Exec(t, "ip", "addr", "add", "198.51.100.2/32", "dev", "lo")
	_, stdout, _ = ksc(published...)
	assert.Regexp(t, `live:\d+:3  ct status dnat accept\n      matches: accept\nverdict: accept \(live:\d+:3\)`, stdout, "delivered here, where firewalld's input chain accepts what a dnat sent")

	code, stdout, stderr = ksc("test", machineDir+"killswitch.ks", machineDir+"killswitch.live.kst", "--live", "--netns", ns.Name)
	assert.Equal(t, 0, code, stdout+stderr)
	assert.Equal(t, "10 passed, 0 failed\n", stdout)
	code, _, _ = ksc("test", machineDir+"killswitch.ks", machineDir+"killswitch.live.kst")
	assert.Equal(t, 1, code, "the policy alone does not reject what fail2ban and firewalld do")

	host := filepath.Join(t.TempDir(), "host.ks")
	require.NoError(t, os.WriteFile(host, []byte("table inet filter {\n\tchain input hook input priority filter policy drop {\n\t\tct state established,related accept\n\t\ttcp dport 22 accept\n\t}\n}\n"), 0o644))
	code, _, stderr = ksc("check", host, "--live", "--netns", ns.Name)
	assert.Equal(t, 0, code, stderr)
	assert.Regexp(t, `warning: live:\d+:3 \(table ip nat, not the policy's\) sends packets that arrive for this machine to 198\.51\.100\.2: the kernel forwards them, around the policy, which would drop them`, stderr)
	assert.Contains(t, stderr, "  and the machine's forward chains accept it: forward eth0 docker0 tcp ")
	assert.Contains(t, stderr, "(table inet firewalld) drops")
	code, _, _ = ksc("check", host, "--live", "--netns", ns.Name, "--strict")
	assert.Equal(t, 1, code)

	// A forward chain that drops what the dnat sends on closes the way.
	closed := filepath.Join(t.TempDir(), "closed.ks")
	require.NoError(t, os.WriteFile(closed, []byte("table inet filter {\n\tchain input hook input priority filter policy drop {\n\t\ttcp dport 22 accept\n\t}\n\tchain forward hook forward priority filter policy drop {\n\t}\n}\n"), 0o644))
	_, _, stderr = ksc("check", closed, "--live", "--netns", ns.Name)
	assert.NotContains(t, stderr, "not the policy's) sends packets")

	// iptables-legacy's rules run at the same hooks, and nft lists none
	// of them: ksc reads them as iptables-nft-restore translates them.
	labtest.Require(t, "iptables-legacy")
	ns.Exec(t, "iptables-legacy", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "DROP")
	ns.Exec(t, "iptables-legacy", "-A", "INPUT", "-p", "tcp", "--dport", "23", "-m", "recent", "--rcheck", "--name", "x", "-j", "DROP")
	_, stdout, _ = ksc("explain", "--live", "--netns", ns.Name, "in", "eth0", "tcp", "203.0.113.7:40000", "192.0.2.2:22")
	assert.Contains(t, stdout, "chain ip filter INPUT (hook input, priority 0, policy accept):\n  iptables-legacy:4:3  tcp dport 22 counter drop\n      matches: drop\nverdict: drop (iptables-legacy:4:3)\n")
	_, stdout, _ = ksc("explain", "--live", "--netns", ns.Name, "in", "eth0", "tcp", "203.0.113.7:40000", "192.0.2.2:23")
	assert.Contains(t, stdout, "verdict: unknown, because ksc cannot read rule iptables-legacy:5:3 in table ip filter")
	code, stdout, stderr = ksc("test", machineDir+"killswitch.ks", machineDir+"killswitch.live.kst", "--live", "--netns", ns.Name)
	assert.Equal(t, 2, code, "a line whose verdict is not known is trouble")
	assert.Contains(t, stdout, "in eth0 tcp 203.0.113.7:40000 192.0.2.2:22: expected accept, got drop (decided by iptables-legacy:4:3)")
	assert.Contains(t, stderr, "in eth0 tcp 203.0.113.7:40000 192.0.2.2:23: unknown, because ksc cannot read rule iptables-legacy:5:3")
}

// A kill switch applied with the iptables backend, and Docker's accept
// inserted before ksc's chain in FORWARD afterwards (as dockerd inserts
// its rules): with --in-force, test and check answer for the machine as
// it is, and find the containers' way out past the kill switch.
func TestLiveInForceFindsDockerBeforeTheKillSwitch(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore")
	useRunDir(t)
	ns := labtest.NewNS(t, "inforce")
	policy := machineDir + "killswitch.ks"
	code, _, stderr := ksc("apply", policy, "--netns", ns.Name, "--backend", "iptables", "--iptables-mode", "nft")
	require.Equal(t, 0, code, stderr)
	tests := filepath.Join(t.TempDir(), "t.kst")
	require.NoError(t, os.WriteFile(tests, []byte("drop forward docker0 eth0 tcp 198.51.100.2:40000 203.0.113.7:443\nnever accept forward docker0 eth0 * * * new\n"), 0o644))

	code, stdout, stderr := ksc("test", policy, tests, "--live", "--in-force", "--netns", ns.Name)
	require.Equal(t, 0, code, stdout+stderr)

	ns.Exec(t, "iptables-nft", "-I", "FORWARD", "-i", "docker0", "!", "-o", "docker0", "-j", "ACCEPT")
	code, stdout, _ = ksc("test", policy, tests, "--live", "--in-force", "--netns", ns.Name)
	assert.Equal(t, 1, code)
	assert.Regexp(t, `t.kst:1: forward docker0 eth0 tcp 198.51.100.2:40000 203.0.113.7:443: expected drop, got accept \(decided by live:\d+:3\)`, stdout)
	assert.Contains(t, stdout, "t.kst:2: never accept forward docker0 eth0 * * * new: broken")

	_, _, stderr = ksc("check", policy, "--live", "--in-force", "--netns", ns.Name)
	assert.Regexp(t, `warning: live:\d+:3 \(table ip filter\) accepts .* that the policy alone does not`, stderr)

	code, _, stderr = ksc("test", policy, tests, "--in-force")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--in-force goes with --live")
}
