package sysctl_test

import (
	"testing"

	"github.com/ksc-project/ksc/backends/sysctl"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/ir"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGolden(t *testing.T) {
	n := 0
	for _, c := range golden.Cases(t) {
		p := c.Load(t)
		// Options change only firewall rules: the base cases suffice.
		if p.IPv6.Sysctl == nil || len(c.Config.Enable) > 0 {
			continue
		}
		n++
		for _, undo := range []bool{false, true} {
			name := c.Name
			if undo {
				name += ".undo"
			}
			out, err := sysctl.Render(p, undo)
			require.NoError(t, err)
			golden.Check(t, golden.Path(t, "sysctl", name, ".conf"), out)
		}
	}
	assert.NotZero(t, n, "no policy has an ipv6 sysctl statement")
}

func TestKeepLoopbackSetsLoopbackBackAfterAll(t *testing.T) {
	p := &ir.Policy{IPv6: ir.IPv6Plan{Sysctl: &ir.SysctlPlan{KeepLoopback: true}}}
	got, err := sysctl.Settings(p, false)
	require.NoError(t, err)
	// Writing "all" changes every interface, lo included: lo must come after.
	assert.Equal(t, []sysctl.Setting{
		{Key: "net.ipv6.conf.all.disable_ipv6", Value: "1"},
		{Key: "net.ipv6.conf.default.disable_ipv6", Value: "1"},
		{Key: "net.ipv6.conf.lo.disable_ipv6", Value: "0"},
	}, got)
}

func TestNoPlanIsAnError(t *testing.T) {
	_, err := sysctl.Render(&ir.Policy{Source: "p.ks"}, false)
	assert.EqualError(t, err, `p.ks: the policy has no "ipv6 sysctl" statement`)
}
