package machine_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/machine"
	"github.com/ksc-project/ksc/sim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const machineDir = "../testdata/machine/"

// machinePackets is how many packets TestExplainLiveAgreesWithTheKernel
// sends (KSC_MACHINE_PACKETS; the measure is 10,000), drawn with
// KSC_MACHINE_SEED.
func machineEnv(name string, def uint64) uint64 {
	if v, err := strconv.ParseUint(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

// A kill switch beside Docker (iptables-nft), fail2ban, firewalld,
// wg-quick and a program that writes iptables-legacy rules, in a lab: what ksc explain --live says of each drawn packet
// is what the kernel does with it, or "unknown" (a rule ksc cannot read,
// a dnat that leaves the way to routing), never another verdict.
func TestExplainLiveAgreesWithTheKernel(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	l, err := lab.New([]string{"eth0", "wg0", "docker0"})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, l.Close()) })
	rules, err := os.Open(machineDir + "docker.rules")
	require.NoError(t, err)
	defer rules.Close()
	restore := exec.Command("ip", "netns", "exec", l.FW, "iptables-nft-restore")
	restore.Stdin = rules
	out, err := restore.CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command("ip", "netns", "exec", l.FW, "nft", "-f", machineDir+"others.nft").CombinedOutput()
	require.NoError(t, err, "%s", out)
	legacy, err := os.Open(machineDir + "legacy.rules")
	require.NoError(t, err)
	defer legacy.Close()
	restore = exec.Command("ip", "netns", "exec", l.FW, "iptables-legacy-restore")
	restore.Stdin = legacy
	out, err = restore.CombinedOutput()
	require.NoError(t, err, "%s", out)
	src, err := os.ReadFile(machineDir + "killswitch.ks")
	require.NoError(t, err)
	p, ds := lang.Load("killswitch.ks", src, lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	require.NoError(t, backends.Loaders[0].Load(p, l.Path()))

	m, err := machine.Read(l.Path())
	require.NoError(t, err)
	require.Empty(t, m.Unseen)
	require.Len(t, m.Policy.Tables, 8, "Docker's three, fail2ban's, firewalld's, wg-quick's, the kill switch and iptables-legacy's filter")

	n, seed := machineEnv("KSC_MACHINE_PACKETS", 1000), machineEnv("KSC_MACHINE_SEED", 1)
	r := rand.New(rand.NewPCG(seed, 0))
	verdicts := map[ir.Verdict]int{}
	agreed, unknown, unsent, rerouted := 0, 0, 0, 0
	unsentWhy := map[string]int{}
	for range n {
		line := drawMachinePacket(r)
		pkt, err := sim.ParsePacket(line)
		require.NoError(t, err, line)
		res, unsure := m.Evaluate(pkt)
		if unsure != "" {
			unknown++
			continue
		}
		if res.Sent() != nil || res.Final.Dir != pkt.Dir {
			// A published port's dnat: the lab's routes are a probe's
			// own, made as it is sent, which the machine read before did
			// not have.
			rerouted++
			continue
		}
		o, err := l.Run(pkt, res.Final)
		if u, ok := err.(*lab.Unsupported); ok {
			unsent++
			unsentWhy[u.Reason]++
			continue
		}
		require.NoError(t, err, line)
		if assert.True(t, o.Matches(res.Verdict), "%s: explain --live says %s (%s), the kernel %s", line, res.Verdict, decided(res), o.Verdict) {
			agreed++
			verdicts[res.Verdict]++
		}
	}
	t.Logf("seed %d: %d packets: %d as the kernel did (%d accepted, %d dropped, %d rejected), %d unknown, %d the lab cannot send, %d sent elsewhere by a dnat (not compared)",
		seed, n, agreed, verdicts[ir.Accept], verdicts[ir.Drop], verdicts[ir.Reject], unknown, unsent, rerouted)
	for why, k := range unsentWhy {
		t.Logf("not sent, %d: %s", k, why)
	}
	assert.Less(t, unknown+unsent+rerouted, int(n)/20, "nearly every packet is answered and sent")
	for _, v := range []ir.Verdict{ir.Accept, ir.Drop, ir.Reject} {
		assert.Positive(t, verdicts[v], "the draw reaches every verdict: %s", v)
	}
}

func decided(res sim.Result) string {
	if d := res.Decided(); d != nil && d.Rule != nil {
		return d.Rule.Pos.String()
	}
	return "the chains' policies"
}

// drawMachinePacket draws a packet line the rules of testdata/machine
// tell apart: their interfaces, addresses and ports, and others.
func drawMachinePacket(r *rand.Rand) string {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	ifaces := []string{"eth0", "wg0", "docker0"}
	remote := pick("203.0.113.7", "203.0.113.66", "198.51.100.200", "198.51.100.2", "192.0.2.50")
	local := pick("192.0.2.2", "192.0.2.130")
	proto := pick("tcp", "tcp", "udp", "icmp")
	state := pick("new", "new", "established")
	port := func() string {
		return pick("22", "53", "80", "443", "2222", "5353", "8080", "8081", "51820", strconv.Itoa(1024+r.IntN(60000)))
	}
	ends := func(src, dst string) string {
		if proto == "icmp" {
			return fmt.Sprintf("%s %s echo-request", src, dst)
		}
		return fmt.Sprintf("%s:%d %s:%s", src, 32768+r.IntN(28000), dst, port())
	}
	var line string
	switch pick("in", "out", "forward") {
	case "in":
		line = fmt.Sprintf("in %s %s %s", pick(ifaces...), proto, ends(remote, local))
	case "out":
		line = fmt.Sprintf("out %s %s %s", pick(ifaces...), proto, ends(local, remote))
		if r.IntN(4) == 0 {
			line += " mark 0xca6c"
		}
	default:
		from := r.IntN(3)
		to := (from + 1 + r.IntN(2)) % 3
		src, dst := remote, pick("203.0.113.9", "198.51.100.2", "198.51.100.3", "192.0.2.60")
		if src == dst {
			dst = "203.0.113.10"
		}
		line = fmt.Sprintf("forward %s %s %s %s", ifaces[from], ifaces[to], proto, ends(src, dst))
	}
	return line + " " + state
}
