package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/lint"
	"github.com/ksc-project/ksc/sim"
)

// input is a policy to measure: its text and the directory its file("...")
// sets sit in.
type input struct {
	name string
	src  []byte
	dir  string
}

func inputs(b *testing.B) []input {
	example, err := os.ReadFile("../examples/ivpn-killswitch.ks")
	if err != nil {
		b.Fatal(err)
	}
	return []input{
		{"example", example, "../examples"},
		{"rules-10k", []byte(RulesPolicy(10_000)), ""},
		{"set-100k", []byte(SetPolicy), writeBlocklist(b, 100_000)},
		{"set-1M", []byte(SetPolicy), writeBlocklist(b, 1_000_000)},
		{"inline-100k", []byte(InlinePolicy(100_000)), ""},
	}
}

func writeBlocklist(b *testing.B, n int) string {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "blocklist.txt"), []byte(Blocklist(n)), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

func load(b *testing.B, in input) *ir.Policy {
	p, ds := lang.Load(in.name+".ks", in.src, lang.Config{Dir: in.dir})
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	return p
}

func BenchmarkParse(b *testing.B) {
	for _, in := range inputs(b) {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ds := lang.Parse(in.name, in.src); ds.HasErrors() {
					b.Fatal(ds)
				}
			}
		})
	}
}

// BenchmarkCheck is "ksc check": parse, build and validate.
func BenchmarkCheck(b *testing.B) {
	for _, in := range inputs(b) {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				load(b, in)
			}
		})
	}
}

// BenchmarkCompileNft is "ksc compile --target nft": check, then render.
func BenchmarkCompileNft(b *testing.B) {
	for _, in := range inputs(b) {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := nft.Render(load(b, in), ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLowerNetlink is what "ksc apply" does before it talks to the kernel.
func BenchmarkLowerNetlink(b *testing.B) {
	for _, in := range inputs(b) {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := nft.Lower(load(b, in)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompileIptables(b *testing.B) {
	for _, in := range inputs(b)[:2] { // large sets are refused by design
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := iptables.Render(load(b, in), ir.IPv4); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLint is the warnings half of "ksc check": shadowing and the
// rest, on a loaded policy.
func BenchmarkLint(b *testing.B) {
	for _, in := range inputs(b) {
		b.Run(in.name, func(b *testing.B) {
			p := load(b, in)
			b.ReportAllocs()
			for b.Loop() {
				lint.Check(p)
			}
		})
	}
}

// BenchmarkProve proves a promise about every packet of a region: the
// examples' kill switch's leak path, and one over ten thousand rules
// (#29 asks under 1 s and under 10 s).
func BenchmarkProve(b *testing.B) {
	for _, tc := range []struct{ name, policy, promise string }{
		{"example", "../examples/wireguard-killswitch.ks", "out eth* * * * new,invalid,untracked except udp * 198.51.100.10:51820 except icmpv6 * *"},
		{"rules-10k", "", "out eth0 * * * new,invalid,untracked except tcp * 198.18.0.0/15"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			in := input{name: tc.name, src: []byte(RulesPolicy(10_000))}
			if tc.policy != "" {
				src, err := os.ReadFile(tc.policy)
				if err != nil {
					b.Fatal(err)
				}
				in = input{name: tc.name, src: src, dir: "../examples"}
			}
			p := load(b, in)
			pr, err := sim.ParsePromise(tc.promise)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if proof := pr.Prove(p); !proof.Kept {
					b.Fatalf("not kept: %s %v", proof.Witness, proof.Unknown)
				}
			}
		})
	}
}
