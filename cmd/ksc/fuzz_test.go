package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/internal/golden"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/lint"
)

// FuzzCompile drives parse, check and compile to every target with
// arbitrary policies and -D values: nothing may panic, and when a compile
// succeeds, nft -c and iptables-restore --test (when available) must
// accept what it wrote. They run under "unshare --net": a namespace of
// their own that disappears with them, so nothing is left behind.
func FuzzCompile(f *testing.F) {
	// Small seeds: the fuzzer minimises every new input, and each try runs
	// the kernel's checks; the examples are covered by the golden tests.
	f.Add("flush ruleset\ntable t {\nchain c hook input policy drop {\niifname lo accept\nct state established,related accept\noption ssh { tcp dport 22 accept }\n}\n}\n", "", "ssh")
	f.Add("define S = { 192.0.2.0/24, 198.51.100.1-198.51.100.9 }\ntable ip t {\nchain o hook output priority -5 {\noifname { eth0, \"wl*\" } ip daddr $S meta l4proto { tcp, udp } th dport { 53, 1000-2000 } counter log prefix \"o: \" level info reject comment \"c\"\n}\n}\n", "S=2001:db8::1", "")
	f.Add("ipv6 sysctl disable keep-loopback\nipv6 openvpn block\ntable ip6 t {\nchain f hook forward policy drop {\nip6 saddr 2001:db8::/32 meta l4proto icmpv6 accept\n}\n}\n", "", "")
	f.Add("flush ruleset\ntable t {\nchain c hook output policy drop {\noifname $D log prefix \"x\" accept\n}\n}\ndefine D = eth0\n", `D="a;b"`, "")
	canUseKernel := os.Geteuid() == 0 && hasTools("unshare", "nft", "iptables-nft-restore", "ip6tables-nft-restore")
	f.Fuzz(func(t *testing.T, src, define, option string) {
		cfg := lang.Config{Dir: t.TempDir()}
		if o, err := lang.ParseOverride(define); err == nil {
			cfg.Defines = []lang.Override{o}
		}
		if option != "" {
			cfg.Enable = []string{option}
		}
		p, ds := lang.Load("fuzz.ks", []byte(src), cfg)
		if p == nil {
			if !ds.HasErrors() {
				t.Fatal("no policy and no error")
			}
			return
		}
		lint.Check(p)
		outputs := map[string][]byte{}
		for name, target := range targets {
			out, err := target.render(p, renderOptions{})
			if err == nil {
				outputs[name] = out
			} else if _, ok := err.(ir.Diagnostics); !ok {
				t.Fatalf("target %s failed without a diagnostic: %v", name, err)
			}
		}
		if !canUseKernel {
			return
		}
		check := func(target string, args ...string) {
			out, ok := outputs[target]
			if !ok {
				return
			}
			cmd := exec.Command("unshare", append([]string{"--net"}, args...)...)
			cmd.Stdin = strings.NewReader(string(out))
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s accepted the policy, but %s refuses its output: %v\n%s\n%s", target, args[0], err, msg, out)
			}
		}
		if !namesMissingInterface(p) {
			// nft looks iif and oif up when it reads them, and an
			// unshared namespace has lo alone: "Interface does not
			// exist" is then the refusal ksc documents, not a defect.
			check("nft", "nft", "-c", "-f", "-")
		}
		// The netlink batch is the nft target's other form: it must exist
		// exactly when the text does, and the kernel must take it.
		batch, err := nft.Lower(p)
		if _, accepted := outputs["nft"]; !accepted {
			require.Error(t, err, "the nft text refused this policy, but its netlink batch did not")
			return
		}
		require.NoError(t, err, "the nft text accepted this policy, but its netlink batch did not")
		require.NoError(t, batch.Resolve(golden.Machine{})) // as apply does, for a made-up namespace
		if err := kernel.Verify(batch); err != nil {
			t.Fatalf("the kernel refuses the netlink batch of a policy ksc accepted: %v\n%s", err, outputs["nft"])
		}
		check("iptables", "iptables-nft-restore", "--test")
		check("ip6tables", "ip6tables-nft-restore", "--test")
	})
}

// namesMissingInterface reports a policy that matches an interface by
// its index (iif, oif) other than lo.
func namesMissingInterface(p *ir.Policy) bool {
	for _, t := range p.Tables {
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				for _, m := range r.Matches {
					if m.Field.Spec().ByIndex && !m.Values.Equal(ir.InterfaceSet("lo")) {
						return true
					}
				}
			}
		}
	}
	return false
}

func hasTools(tools ...string) bool {
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			return false
		}
	}
	return true
}
