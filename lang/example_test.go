package lang_test

import (
	"fmt"

	"github.com/ksc-project/ksc/lang"
)

func ExampleLoad() {
	src := []byte(`
define VPN_DEV = tun0
table inet killswitch {
	chain OUTPUT hook output policy drop {
		oifname $VPN_DEV accept
		option lan {
			oifname eth0 ip daddr 192.0.2.0/24 accept
		}
	}
}
`)
	p, ds := lang.Load("policy.ks", src, lang.Config{
		Defines: []lang.Override{{Name: "VPN_DEV", Value: "wg0"}},
		Enable:  []string{"lan"},
	})
	if ds.HasErrors() {
		fmt.Println(ds)
		return
	}
	for _, r := range p.Tables[0].Chains[0].Rules {
		fmt.Printf("%s %s option=%q\n", r.Pos, r.Verdict, r.Option)
	}
	// Output:
	// policy.ks:5:3 accept option=""
	// policy.ks:7:4 accept option="lan"
}

func ExampleLoad_error() {
	src := []byte("define PORT = 71234\ntable t {\n\tchain c hook input {\n\t\ttcp dport $PORT accept\n\t}\n}\n")
	_, ds := lang.Load("policy.ks", src, lang.Config{})
	fmt.Print(ds[0].Render(src))
	// Output:
	// policy.ks:1:15: tcp dport: 71234 is out of range 0-65535
	//     1 | define PORT = 71234
	//       |               ^^^^^
}
