package main

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/internal/mutate"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/sim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The difference ksc diff reports between an example and its mutant (a
// rule taken out, its verdict turned round, its port moved) holds in the
// kernel: the packet
// that shows it gets, on every loader that can express both, the verdict
// the simulation gives it with each policy. The mutants are drawn with a
// new seed each run (KSC_MUTANT_SEED repeats one); KSC_MUTANTS sets how
// many (#29 measures 200).
func TestDifferencesHoldInTheKernel(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore", "iptables-legacy-restore")
	seed := envUint("KSC_MUTANT_SEED", rand.Uint64()%1_000_000_000)
	want := int(envUint("KSC_MUTANTS", 24))
	t.Logf("seed %d (rerun with KSC_MUTANT_SEED=%d), %d mutants", seed, seed, want)
	r := rand.New(rand.NewPCG(seed, seed^0x6d7574))
	files, err := filepath.Glob(filepath.Join(golden.Root(t), "examples", "*.ks"))
	require.NoError(t, err)
	type candidate struct {
		file string
		cfg  lang.Config
		orig []byte
		m    mutate.Mutant
	}
	var all []candidate
	for _, file := range files {
		src, err := os.ReadFile(file)
		require.NoError(t, err)
		cfg := golden.ExampleConfig(t, file)
		for _, m := range mutate.Verdicts(src) {
			all = append(all, candidate{file, cfg, src, m})
		}
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	checked, sent := 0, 0
	for _, c := range all {
		if checked == want {
			break
		}
		orig, ds := lang.Load(c.file, c.orig, c.cfg)
		require.False(t, ds.HasErrors())
		mut, ds := lang.Load(c.file, c.m.Src, c.cfg)
		if ds.HasErrors() {
			continue
		}
		changes, err := sim.Difference(orig, mut)
		require.NoError(t, err)
		var w *sim.Packet
		for _, ch := range changes {
			if ch.Witness != "" {
				p, err := sim.ParsePacket(ch.Witness)
				require.NoError(t, err)
				w = &p
				break
			}
		}
		if w == nil {
			continue // no difference a packet shows
		}
		checked++
		for _, ld := range backends.Loaders {
			if ld.Compile(orig) != nil || ld.Compile(mut) != nil {
				continue
			}
			for _, p := range []*ir.Policy{orig, mut} {
				x := sim.Expectation{Line: c.m.Line, Verdict: sim.Evaluate(p, *w).Verdict, Packet: *w, Text: sim.FormatPacket(*w)}
				got, err := lab.CheckBlock(context.Background(), p, sim.TestBlock{Expect: []sim.Expectation{x}}, func(nsPath string) error { return ld.Load(p, nsPath) })
				require.NoError(t, err)
				if got[0].Unsent != "" {
					t.Logf("%s:%d %s: %s not sent: %s", filepath.Base(c.file), c.m.Line, c.m.Change, x.Text, got[0].Unsent)
					continue
				}
				sent++
				assert.Equal(t, x.Verdict, got[0].Got, "%s:%d %s, %s: %s (%s)", filepath.Base(c.file), c.m.Line, c.m.Change, map[bool]string{true: "the example", false: "the mutant"}[p == orig], x.Text, ld.Name)
			}
		}
	}
	t.Logf("%d mutants, %d packets sent and judged", checked, sent)
	require.GreaterOrEqual(t, checked, min(want, 140), "too few mutants with a difference (the examples have 146)")
	assert.Greater(t, sent, checked*4, "most differences are sent on several loaders")
}

func envUint(name string, def uint64) uint64 {
	if v, err := strconv.ParseUint(os.Getenv(name), 10, 64); err == nil && v > 0 {
		return v
	}
	return def
}
