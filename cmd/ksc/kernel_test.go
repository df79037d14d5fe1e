package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/flows"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/sim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ksc runs the command in process and returns its exit status and output.
func ksc(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestApplySysctlInNamespace(t *testing.T) {
	labtest.Require(t)
	useRunDir(t)
	ns := labtest.NewNS(t, "cli")
	read := func() string {
		return strings.TrimSpace(ns.Exec(t, "cat", "/proc/sys/net/ipv6/conf/all/disable_ipv6", "/proc/sys/net/ipv6/conf/lo/disable_ipv6"))
	}
	policy := filepath.Join("..", "..", "examples", "ivpn-killswitch.ks")
	code, _, stderr := ksc("apply", policy, "--target", "sysctl", "--netns", ns.Name)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "1\n1", read())
	code, _, stderr = ksc("apply", policy, "--target", "sysctl", "--netns", ns.Name, "--undo")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "0\n0", read())

	// A namespace that does not exist is an error, and nothing is written.
	code, _, stderr = ksc("apply", policy, "--target", "sysctl", "--netns", "ksc-no-such-namespace")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "network namespace /var/run/netns/ksc-no-such-namespace")
	_, err := os.Stat("/var/run/netns/ksc-no-such-namespace")
	assert.True(t, os.IsNotExist(err))
}

// Every example keeps its promises with real packets too, on every loader
// that can express it.
func TestExamplesKeepTheirPromisesInTheKernel(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	examples := policiesWithPromises(t)
	for _, ex := range examples {
		t.Run(filepath.Base(ex), func(t *testing.T) {
			code, stdout, stderr := ksc("test", ex, "--kernel", "--backend", "all")
			assert.Equal(t, 0, code, stdout+stderr)
			assert.Regexp(t, `^[1-9]\d* passed, 0 failed in the kernel \(netlink, nft(, iptables-nft, iptables-legacy)?\)\n$`, stdout)
		})
	}
}

// Rulesets as users write them keep their promises with real packets,
// on every loader that can express them.
func TestRealConfigurationsKeepTheirPromisesInTheKernel(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	for policy, kst := range realConfigurations(t) {
		t.Run(filepath.Base(policy), func(t *testing.T) {
			code, stdout, stderr := ksc("test", policy, kst, "--kernel", "--backend", "all")
			assert.Equal(t, 0, code, stdout+stderr)
			assert.Regexp(t, `^[1-9]\d* passed, 0 failed in the kernel \(netlink, nft(, iptables-nft, iptables-legacy)?\)\n$`, stdout)
		})
	}
}

// ksc test --kernel holds a reject to its answer: a kernel that answers
// with another ICMP code than the rule's fails the promise. The nft loader
// is made to load a ruleset whose reject answers otherwise.
func TestKernelTestsCheckTheRejectsAnswer(t *testing.T) {
	labtest.Require(t, "nft")
	dir := t.TempDir()
	policy := filepath.Join(dir, "p.ks")
	require.NoError(t, os.WriteFile(policy, []byte("table inet t {\n\tchain out hook output policy accept {\n\t\tip daddr 192.0.2.9 udp dport 53 reject\n\t}\n}\n"), 0o644))
	kst := filepath.Join(dir, "p.kst")
	require.NoError(t, os.WriteFile(kst, []byte("reject out eth0 udp 192.0.2.2:40000 192.0.2.9:53\n"), 0o644))

	code, stdout, stderr := ksc("test", policy, kst, "--kernel", "--backend", "nft")
	require.Equal(t, 0, code, stdout+stderr)

	// An nft loader that writes another reject: the test must see it.
	i := slices.IndexFunc(backends.Loaders, func(l backends.Loader) bool { return l.Name == "nft" })
	honest := backends.Loaders[i]
	t.Cleanup(func() { backends.Loaders[i] = honest })
	backends.Loaders[i].Load = func(p *ir.Policy, nsPath string) error {
		text, err := nft.Render(p, "")
		if err != nil {
			return err
		}
		return backends.NftF(nsPath, strings.ReplaceAll(string(text), " reject", " reject with icmpx host-unreachable"))
	}
	code, stdout, stderr = ksc("test", policy, kst, "--kernel", "--backend", "nft")
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stdout, "p.kst:1: out eth0 udp 192.0.2.2:40000 192.0.2.9:53: expected reject with icmp port-unreachable, the kernel answered with icmp host-unreachable (nft)\n")
}

// Each packet of ksc test --kernel is judged afresh, as the simulator
// judges it: a limit's bucket spent by one line is not spent for the
// next (each packet of a policy with a limit gets a lab of its own).
func TestKernelTestsTakeEachPacketUnderTheRate(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	dir := t.TempDir()
	policy := filepath.Join(dir, "p.ks")
	require.NoError(t, os.WriteFile(policy, []byte("table inet t {\n\tchain out hook output policy accept {\n"+
		"\t\tmeta nfproto ipv4 udp dport 53 limit rate 1/minute burst 1 packets accept\n\t\tudp dport 53 drop\n\t}\n}\n"), 0o644))
	kst := filepath.Join(dir, "p.kst")
	require.NoError(t, os.WriteFile(kst, []byte("accept out eth0 udp 192.0.2.2:40000 203.0.113.9:53\n"+
		"accept out eth0 udp 192.0.2.2:40001 203.0.113.9:53\naccept out eth0 udp 192.0.2.2:40002 203.0.113.9:53\n"), 0o644))
	code, stdout, stderr := ksc("test", policy, kst, "--kernel", "--backend", "all")
	assert.Equal(t, 0, code, stdout+stderr)
	assert.Equal(t, "12 passed, 0 failed in the kernel (netlink, nft, iptables-nft, iptables-legacy)\n", stdout)
}

// ksc test --kernel fails a promise the kernel does not keep, and refuses
// a line it cannot send rather than pass it.
func TestKernelTestsFailAndRefuse(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		return path
	}
	// The strict kill switch, with a chain at a priority no iptables table
	// runs at: iptables cannot express it.
	strict, err := os.ReadFile(filepath.Join("..", "..", "examples", "strict-killswitch.ks"))
	require.NoError(t, err)
	policy := write("strict.ks", string(strict)+"table ip later {\n\tchain c hook input priority 10 {\n\t}\n}\n")
	broken := write("broken.kst", "drop out tun0 udp 192.0.2.130:40000 192.0.2.129:53\n"+
		"accept out eth0 udp 192.0.2.2:40000 203.0.113.53:53\n"+
		"drop out eth0 udp 192.0.2.2:40000 203.0.113.53:53\n")
	code, stdout, stderr := ksc("test", policy, broken, "--kernel", "--backend", "all")
	assert.Equal(t, 1, code, stderr)
	for _, loader := range []string{"netlink", "nft"} {
		assert.Contains(t, stdout, "broken.kst:1: out tun0 udp 192.0.2.130:40000 192.0.2.129:53: expected drop, got accept in the kernel ("+loader+")\n")
		assert.Contains(t, stdout, "broken.kst:2: out eth0 udp 192.0.2.2:40000 203.0.113.53:53: expected accept, got drop in the kernel ("+loader+")\n")
	}
	assert.Contains(t, stdout, "2 passed, 4 failed in the kernel (netlink, nft)\n")
	assert.Contains(t, stderr, "skipped iptables-nft, which cannot express the policy")

	for _, tc := range []struct{ line, message string }{
		{"drop out eth0 udp 192.0.2.2:40000 8.8.8.8:53", "8.8.8.8 is not a documentation"},
		{"drop in eth0 tcp 203.0.113.7:40000 192.0.2.2:22 related", "related packets only as ICMP errors"},
	} {
		kst := write("refused.kst", tc.line+"\n")
		code, stdout, stderr := ksc("test", policy, kst, "--kernel")
		assert.Equal(t, 2, code, tc.line)
		assert.Contains(t, stderr, "refused.kst:1: "+tc.line[5:]+": the lab cannot send this packet: ", tc.line)
		assert.Contains(t, stderr, tc.message, tc.line)
		assert.Equal(t, "0 passed, 0 failed, 1 not sent in the kernel (netlink)\n", stdout, tc.line)
	}

	// iptables alone cannot express this policy: that is trouble, not a pass.
	code, _, stderr = ksc("test", policy, broken, "--kernel", "--backend", "iptables-legacy")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "broken.kst: iptables-legacy cannot express the policy: ")
}

// The gateway's masquerade rewrites what it forwards into the tunnel to
// the router's own address there, and nothing it forwards elsewhere: the
// verdicts of vpn-gateway.kst say what passes, conntrack says as what.
func TestGatewayMasqueradesIntoTheTunnel(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	var stderr bytes.Buffer
	pf := policyFlags{defines: []string{"LAN_V4=192.0.2.0/25"}, quiet: true, cmd: "test"}
	p := pf.load(env{stdout: &stderr, stderr: &stderr}, "../../examples/vpn-gateway.ks")
	require.NotNil(t, p, stderr.String())
	for _, ld := range backends.Loaders {
		t.Run(ld.Name, func(t *testing.T) {
			l, err := lab.New([]string{"lan0", "wg0", "eth0"})
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, l.Close()) })
			require.NoError(t, ld.Load(p, l.Path()))
			// The router's address on wg0 (the one the lab gives it for
			// forwarded probes) stays after the probe: taking an address
			// away makes the kernel forget the connections masqueraded to it.
			out, err := exec.Command("ip", "-n", l.FW, "addr", "add", "203.0.113.254/32", "dev", "wg0").CombinedOutput()
			require.NoError(t, err, "%s", out)
			pkt, err := sim.ParsePacket("forward lan0 wg0 udp 192.0.2.10:40000 203.0.113.9:53")
			require.NoError(t, err)
			o, err := l.Run(pkt, pkt)
			require.NoError(t, err)
			require.Equal(t, ir.Accept, o.Verdict)
			ct, err := flows.Conntrack(l.Path())
			require.NoError(t, err)
			defer ct.Close()
			flows, err := ct.Dump(nil)
			require.NoError(t, err)
			var replyTo []string
			for _, f := range flows {
				if f.TupleOrig.IP.SourceAddress.Unmap().String() == "192.0.2.10" {
					replyTo = append(replyTo, f.TupleReply.IP.DestinationAddress.Unmap().String())
				}
			}
			// 203.0.113.254 is the lab's address on the way out (lab.routerAddress).
			assert.Equal(t, []string{"203.0.113.254"}, replyTo, "the reply goes to the router's tunnel address")
		})
	}
}

// iif and oif match the index an interface has when the policy is loaded:
// ksc looks it up in the namespace, as nft does, and the kernel keeps the
// promises of both loaders that can say it. A name the namespace lacks is
// an error at the match, and nothing is applied.
func TestInterfacesByIndex(t *testing.T) {
	labtest.Require(t, "nft")
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		return path
	}
	policy := write("p.ks", `table inet t {
	chain in hook input policy drop {
		iif lo accept
		iif eth0 tcp dport 22 accept
		iif { eth0, wg0 } udp dport 53 accept
		meta iif != wg0 udp dport 54 accept
	}
	chain out hook output {
		oif wg0 udp dport 1194 drop
		oif != { eth0, lo } udp dport 1195 drop
	}
}
`)
	kst := write("p.kst", `accept in lo udp 192.0.2.2:40000 192.0.2.2:5000
accept in eth0 tcp 203.0.113.7:40000 192.0.2.2:22
drop   in wg0 tcp 203.0.113.7:40000 192.0.2.2:22
accept in wg0 udp 203.0.113.7:40000 192.0.2.2:53
accept in eth0 udp [2001:db8::7]:40000 [2001:db8::2]:53
drop   in eth0 udp [2001:db8::7]:40000 [2001:db8::2]:55
accept in eth0 udp 203.0.113.7:40000 192.0.2.2:54
drop   in wg0 udp 203.0.113.7:40000 192.0.2.2:54
drop   out wg0 udp 192.0.2.2:40000 203.0.113.7:1194
accept out eth0 udp 192.0.2.2:40000 203.0.113.7:1194
drop   out wg0 udp 192.0.2.2:40000 203.0.113.7:1195
accept out eth0 udp 192.0.2.2:40000 203.0.113.7:1195
`)
	code, stdout, stderr := ksc("test", policy, kst, "--kernel", "--backend", "all")
	assert.Equal(t, 0, code, stdout+stderr)
	assert.Equal(t, "24 passed, 0 failed in the kernel (netlink, nft)\n", stdout)
	assert.Contains(t, stderr, "skipped iptables-nft, which cannot express the policy: "+policy+":4:3: the iptables target cannot express iif but on lo")

	missing := write("missing.ks", "table inet t {\n\tchain through hook forward {\n\t\tiif eth0 accept\n\t\toif wg9 drop\n\t}\n}\n")
	useRunDir(t)
	ns := labtest.NewNS(t, "iif")
	code, _, stderr = ksc("apply", missing, "--netns", ns.Name)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, missing+":3:3: interface eth0 does not exist here: iif and oif match the index it has when the policy is loaded")
	assert.Contains(t, stderr, missing+":4:3: interface wg9 does not exist here")
	listing, err := ns.ExecInput("", "nft", "list", "ruleset")
	require.NoError(t, err)
	assert.Empty(t, listing, "nothing applied")
}

// A promise the simulation finds broken is broken in the kernel too: ksc
// test --kernel sends the packet that shows it through every loader,
// which must accept it; a kept promise sends nothing.
func TestBrokenPromiseIsSentToTheKernel(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	dir := t.TempDir()
	policy := filepath.Join(dir, "p.ks")
	require.NoError(t, os.WriteFile(policy, []byte("table inet t {\n\tchain o hook output policy drop {\n\t\toifname \"eth0\" ip daddr 198.51.100.1 udp dport 1194 accept\n"+
		"\t\toifname \"eth0\" udp dport 53 accept\n\t}\n}\n"), 0o644))
	kst := filepath.Join(dir, "p.kst")
	require.NoError(t, os.WriteFile(kst, []byte("never accept out eth0 * * * new except udp * 198.51.100.1:1194\nnever accept out eth0 tcp\n"), 0o644))
	code, stdout, stderr := ksc("test", policy, kst, "--kernel", "--backend", "all")
	assert.Equal(t, 1, code, stdout+stderr)
	assert.Contains(t, stdout, "p.kst:1: never accept out eth0 * * * new except udp * 198.51.100.1:1194: broken: out eth0 udp 192.0.2.2:40000 198.51.100.9:53 is accepted (decided by "+policy+":4:3)\n")
	for _, loader := range []string{"netlink", "nft", "iptables-nft", "iptables-legacy"} {
		assert.Contains(t, stdout, "p.kst:1: the breaking packet out eth0 udp 192.0.2.2:40000 198.51.100.9:53 is accepted in the kernel too ("+loader+")\n")
	}
	assert.NotContains(t, stdout, "p.kst:2:", "a kept promise sends nothing")
	assert.Contains(t, stdout, "1 passed, 1 failed in the kernel (netlink, nft, iptables-nft, iptables-legacy)\n")
}
