package sim_test

import (
	"testing"

	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/sim"
)

// A test file, whatever it holds, parses or is refused with a position;
// its promises are proven or not against a policy with jumps, marks,
// nat and a limit, without a panic, and a packet that breaks one is a
// packet line that parses again.
func FuzzParseTests(f *testing.F) {
	f.Add("accept out eth0 udp 192.0.2.2:40000 198.51.100.1:1194\ndrop in eth0 tcp 203.0.113.7:1 192.0.2.2:22 established\n")
	f.Add("never accept out eth0 * * * new except udp * 198.51.100.1:1194 except * * 255.255.255.255\n")
	f.Add("with -e lan\nnever accept forward eth* wg0 tcp 192.0.2.0/24 [2001:db8::/32]:1-1024 invalid,untracked\n")
	f.Add("never accept in * icmpv6 fe80::/10 ff02::1-ff02::ff\nnever accept out lo\n")
	f.Add("always accept out eth0 udp * 198.51.100.1:53 except udp *:1-1023 *\n")
	f.Add("never accept out eth0 tcp * * code 1\nnever accept out * icmp * * 3 new mark 0x1-0x3 uid 0,1000 ttl 1\n")
	p, ds := lang.Load("f.ks", []byte(`table inet t {
	chain o hook output policy drop {
		oifname "lo" accept
		meta mark 0x1 accept
		oifname "eth0" ip daddr 198.51.100.0/24 jump vpn
		udp dport 53 limit rate 5/second accept
	}
	chain vpn {
		udp dport 1194 meta mark set 0x1 accept
		return
	}
	chain n {
		type nat hook postrouting priority srcnat;
		oifname "eth0" masquerade
	}
	chain i hook input policy drop {
		ct state established,related accept
		iifname "eth0" tcp dport 22 accept
	}
}
`), lang.Config{})
	if ds.HasErrors() {
		f.Fatal(ds)
	}
	f.Fuzz(func(t *testing.T, data string) {
		blocks, err := sim.ParseTests([]byte(data))
		if err != nil {
			return
		}
		for _, b := range blocks {
			for _, pr := range b.Promises {
				proof := pr.Prove(p)
				if proof.Witness == "" {
					continue
				}
				if _, err := sim.ParsePacket(proof.Witness); err != nil {
					t.Fatalf("%s: the breaking packet %q does not parse: %v", pr.Text, proof.Witness, err)
				}
			}
		}
	})
}
