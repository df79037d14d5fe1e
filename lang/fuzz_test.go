package lang_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/sim"
)

// FuzzLoad feeds arbitrary text through the whole front end: it must never
// panic, and whatever it accepts must pass validation and carry positions.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("../examples/*.ks")
	more, _ := filepath.Glob("../testdata/policies/*.ks")
	for _, name := range append(files, more...) {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src), "")
	}
	f.Add("define A\ntable t {\nchain c hook input {\ntcp dport $A accept\n}\n}\n", "A={ 1, 2-3 }")
	f.Add("table t { chain c hook output { oifname \"a\\\" accept } }", "")
	f.Fuzz(func(t *testing.T, src, define string) {
		cfg := lang.Config{}
		if o, err := lang.ParseOverride(define); err == nil {
			cfg.Defines = []lang.Override{o}
		}
		p, ds := lang.Load("fuzz.ks", []byte(src), cfg)
		if p == nil {
			if !ds.HasErrors() {
				t.Fatalf("no policy and no error")
			}
			return
		}
		if vs := p.Validate(); vs.HasErrors() {
			t.Fatalf("Load accepted a policy that Validate refuses: %v", vs)
		}
		// Formatting is stable and changes nothing the policy compiles to.
		formatted, fds := lang.Format("fuzz.ks", []byte(src))
		if fds.HasErrors() {
			t.Fatalf("Load accepted a policy that Format refuses: %v", fds)
		}
		if again, _ := lang.Format("fuzz.ks", formatted); string(again) != string(formatted) {
			t.Fatalf("Format is not idempotent:\n%s\n---\n%s", formatted, again)
		}
		if q, qds := lang.Load("fuzz.ks", formatted, cfg); q == nil {
			t.Fatalf("the formatted policy does not load: %v\n%s", qds, formatted)
		} else if compiled(q) != compiled(p) {
			t.Fatalf("formatting changed the compiled policy:\n%s", formatted)
		}
		for _, tb := range p.Tables {
			for _, c := range tb.Chains {
				for _, r := range c.Rules {
					if !r.Pos.IsValid() {
						t.Fatalf("rule without a position")
					}
				}
			}
		}
	})
}

// compiled is the nft target's text of p, or its refusal (a table named
// "inet", say), without positions: formatting must change neither.
func compiled(p *ir.Policy) string {
	out, err := nft.Render(p, "")
	var ds ir.Diagnostics
	if errors.As(err, &ds) {
		refusal := "refused:"
		for _, d := range ds {
			refusal += "\n" + d.Message
		}
		return refusal
	}
	if err != nil {
		return "refused: " + err.Error()
	}
	return string(out)
}

// A machine's ruleset, however written, reads to a policy every rule of
// which is one the simulator can take (read, or unread) and no backend
// writes unread, or to an error; it never panics. The seeds run with go
// test; go test -fuzz FuzzLoadMachine explores further.
func FuzzLoadMachine(f *testing.F) {
	files, _ := filepath.Glob("../testdata/real/*.nft")
	more, _ := filepath.Glob("../testdata/machine/*.nft")
	for _, name := range append(files, more...) {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	f.Add("table inet x {\n\tflowtable f {\n\t\thook ingress priority filter\n\t\tdevices = { d0, d1 }\n\t}\n\tchain c {\n\t\ttype filter hook forward priority 0;\n\t\tip protocol tcp flow add @f\n\t}\n}\n")
	f.Add("table ip filter {\n\tchain INPUT {\n\t\ttype filter hook input priority 0;\n\t\ttcp dport 23 xt match recent counter drop\n\t\txt target TTL\n\t}\n}\n")
	f.Fuzz(func(t *testing.T, src string) {
		p, _, ds := lang.LoadMachine("live", []byte(src), "")
		if p == nil {
			if !ds.HasErrors() {
				t.Fatalf("no policy and no error")
			}
			return
		}
		unread := 0
		for _, tb := range p.Tables {
			for _, c := range tb.Chains {
				for _, r := range c.Rules {
					if r.Unread != nil {
						unread++
					}
				}
			}
		}
		if got := len(p.Unwritable()); got != unread {
			t.Fatalf("%d unread rules, %d refused for writing", unread, got)
		}
		// The simulator takes every rule it was given.
		for _, line := range []string{"in eth0 tcp 203.0.113.7:40000 192.0.2.2:22", "out eth0 udp 192.0.2.2:40000 198.51.100.1:53", "forward eth1 eth0 tcp 192.0.2.9:40000 203.0.113.7:443"} {
			pkt, err := sim.ParsePacket(line)
			if err != nil {
				t.Fatal(err)
			}
			sim.Evaluate(p, pkt)
		}
	})
}
