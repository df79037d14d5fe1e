package iptables_test

import (
	"fmt"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
)

func ExampleRender() {
	src := `flush ruleset
table inet killswitch {
	chain OUTPUT hook output policy drop {
		oifname "eth0" ip daddr { 198.51.100.1, 198.51.100.2 } accept
		oifname "tun0" accept
	}
}
`
	p, _ := lang.Load("policy.ks", []byte(src), lang.Config{})
	for _, family := range []ir.Family{ir.IPv4, ir.IPv6} {
		o, err := iptables.Render(p, family)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Print(afterHeader(o.Text))
	}
	// Output:
	// *filter
	// :INPUT ACCEPT [0:0]
	// :FORWARD ACCEPT [0:0]
	// :OUTPUT DROP [0:0]
	// -A OUTPUT -d 198.51.100.1/32 -o eth0 -j ACCEPT
	// -A OUTPUT -d 198.51.100.2/32 -o eth0 -j ACCEPT
	// -A OUTPUT -o tun0 -j ACCEPT
	// COMMIT
	// *filter
	// :INPUT ACCEPT [0:0]
	// :FORWARD ACCEPT [0:0]
	// :OUTPUT DROP [0:0]
	// -A OUTPUT -o tun0 -j ACCEPT
	// COMMIT
}
