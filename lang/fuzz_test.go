package lang_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
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
	out, err := nft.Render(p)
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
