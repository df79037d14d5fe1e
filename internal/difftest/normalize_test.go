package difftest

import (
	"testing"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/ir"
	"github.com/stretchr/testify/require"
)

// everyTarget compiles a policy for each target, as the kernel test needs.
func everyTarget(p *ir.Policy) error {
	if _, err := nft.Render(p, ""); err != nil {
		return err
	}
	if _, err := nft.Lower(p); err != nil {
		return err
	}
	for _, f := range []ir.Family{ir.IPv4, ir.IPv6} {
		if _, err := iptables.Render(p, f); err != nil {
			return err
		}
	}
	return nil
}

// Normalization (intersecting repeated fields, uniting negations, making
// implied protocols explicit, reordering) must not change what a rule
// means: for every generated rule and probe, the rules as written and the
// normalized rules that backends lower give the same verdict. No root.
func TestNormalizationKeepsMeaning(t *testing.T) {
	pairs := 0
	for seed := uint64(1); seed <= 300; seed++ {
		g := NewGenerator(seed)
		for _, hook := range []ir.Hook{ir.HookInput, ir.HookOutput} {
			c, err := g.Case(hook, 4, 24, everyTarget)
			require.NoError(t, err, "seed %d", seed)
			rules := c.Rules
			require.Len(t, rules, len(c.Written))
			for _, pr := range c.Probes {
				require.Equal(t, c.Expect(pr)[0], c.Simulated(pr),
					"seed %d: the simulator disagrees with the rules as written\n%s\npacket %+v", seed, c.Source, pr.Packet)
				for _, st := range []ir.CtState{ir.CtNew, ir.CtEstablished} {
					p := pr.Packet
					p.CtState = st
					for i, r := range rules {
						pairs++
						written := (&ir.Rule{Matches: c.Written[i]}).Holds(p)
						require.Equal(t, written, r.Holds(p),
							"seed %d: rule %d of\n%s\nnormalized to %s\npacket %+v", seed, i, c.Source, nft.RuleText(ir.Inet, r), p)
					}
				}
			}
		}
	}
	t.Logf("%d packet×rule pairs agree", pairs)
	require.Greater(t, pairs, 10000)
}
