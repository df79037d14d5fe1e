package kernel_test

import (
	"regexp"
	"testing"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/cgroup"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// counters hides counter values and handles, which differ between loads.
var counters = regexp.MustCompile(`"(packets|bytes|handle)": \d+`)

func listRuleset(t *testing.T, ns *labtest.NS) string {
	t.Helper()
	out, err := ns.ExecInput("", "nft", "-j", "list", "ruleset")
	require.NoError(t, err, out)
	return counters.ReplaceAllString(out, `"$1": 0`)
}

// For every golden case, the ruleset "ksc apply" leaves equals the one
// "nft -f" leaves from the nft target, as nft itself lists them.
func TestApplyLeavesTheSameRulesetAsNftF(t *testing.T) {
	labtest.Require(t, "nft")
	for _, c := range golden.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			p := c.Load(t)
			labtest.Cgroups(t, p)
			root, err := cgroup.NftRootFor(p)
			require.NoError(t, err)
			text, err := nft.Render(p, root)
			require.NoError(t, err)
			viaNft := labtest.NewNS(t, "nftf")
			out, err := viaNft.ExecInput(string(text), "nft", "-f", "-")
			require.NoError(t, err, out)
			viaNetlink := labtest.NewNS(t, "nl")
			require.NoError(t, kernel.Apply(golden.Batch(t, p), nsenter.Path(viaNetlink.Name)))
			assert.JSONEq(t, listRuleset(t, viaNft), listRuleset(t, viaNetlink))
		})
	}
}
