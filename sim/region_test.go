package sim_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/region"
	"github.com/ksc-project/ksc/sim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Fates and Evaluate agree: every packet of every policy's tests is in a
// fate of every packet going its way with the verdict Evaluate gives it,
// and in a fate the region is sure of only if that is its one fate.
func TestFatesAgreeWithEvaluate(t *testing.T) {
	root := golden.Root(t)
	var kst []string
	for _, dir := range []string{"examples", "testdata/policies"} {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.kst"))
		require.NoError(t, err)
		kst = append(kst, files...)
	}
	packets, sure := 0, 0
	for _, file := range kst {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		blocks, err := sim.ParseTests(data)
		require.NoError(t, err, file)
		src, err := os.ReadFile(strings.TrimSuffix(file, ".kst") + ".ks")
		require.NoError(t, err)
		for _, b := range blocks {
			cfg := golden.BlockConfig(t, b, filepath.Dir(file))
			p, ds := lang.Load(file, src, cfg)
			require.False(t, ds.HasErrors(), "%s:%d: %v", file, b.Line, ds)
			fates := map[sim.Direction][]sim.Fate{}
			for _, x := range b.Expect {
				dir := x.Packet.Dir
				if fates[dir] == nil {
					fates[dir], err = sim.Fates(p, dir, region.Cube{})
					require.NoError(t, err, file)
				}
				res := sim.Evaluate(p, x.Packet)
				// A fate holds what a rewrite made of its packets: the
				// packet may be in it whatever its rewritten fields.
				var in []sim.Fate
				exact := 0
				for _, f := range fates[dir] {
					if f.Has(x.Packet.Packet) {
						in = append(in, f)
						if len(f.Rewritten) == 0 {
							exact++
						}
					}
				}
				packets++
				agree := false
				for _, f := range in {
					agree = agree || f.Verdict == res.Verdict
					if len(f.Maybe) == 0 && len(f.Rewritten) == 0 {
						sure++
						assert.Equal(t, 1, exact, "%s:%d: a sure fate is the packet's one", file, x.Line)
					}
				}
				assert.True(t, agree, "%s:%d: %s: Evaluate says %s, the fates %v", file, x.Line, x.Text, res.Verdict, verdicts(in))
			}
		}
	}
	t.Logf("%d packets, %d in a sure fate", packets, sure)
	assert.Greater(t, packets, 400)
	assert.Greater(t, sure, packets/2, "the region is sure of most packets")
}

func verdicts(fs []sim.Fate) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Verdict.String()+" "+fmt.Sprint(f.Maybe))
	}
	return out
}
