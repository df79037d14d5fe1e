package ir_test

import (
	"math/rand/v2"
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randomPorts is a random set of ports below 40, and the same as a bitmap.
func randomPorts(r *rand.Rand) (ir.Set, [40]bool) {
	var ranges []ir.PortRange
	var bits [40]bool
	for range r.IntN(4) {
		a := uint16(r.IntN(40))
		b := a + uint16(r.IntN(40-int(a)))
		ranges = append(ranges, ir.PortRange{First: a, Last: b})
		for p := a; p <= b; p++ {
			bits[p] = true
		}
	}
	return ir.PortSet(ranges...), bits
}

func has(s ir.Set, p int) bool {
	return s.Has(ir.PortSet(ir.PortRange{First: uint16(p), Last: uint16(p)})[0].Lo)
}

// The set algebra that intersection, negation and lint rest on, checked
// against bitmaps on thousands of random sets.
func TestSetAlgebra(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		s, sb := randomPorts(r)
		u, ub := randomPorts(r)
		inter, minus, union := s.Intersect(u), s.Minus(u), s.Union(u)
		containsAll := true
		for p := range 40 {
			require.Equal(t, sb[p], has(s, p))
			require.Equal(t, sb[p] && ub[p], has(inter, p), "%v ∩ %v", s, u)
			require.Equal(t, sb[p] && !ub[p], has(minus, p), "%v − %v", s, u)
			require.Equal(t, sb[p] || ub[p], has(union, p), "%v ∪ %v", s, u)
			require.Equal(t, sb[p], has(s.Joined(), p))
			containsAll = containsAll && (!ub[p] || sb[p])
		}
		require.Equal(t, containsAll, s.Contains(u))
		require.False(t, has(s, 40) || has(inter, 41) || has(union, 45))
	}
}

// nft's times read and write back the same: whole units, largest first.
func TestTimeoutsRoundTrip(t *testing.T) {
	for _, s := range []string{"10m", "1h30m", "1d", "2d3h4m5s"} {
		d, ok := ir.ParseTimeout(s)
		require.True(t, ok, s)
		assert.Equal(t, s, ir.FormatTimeout(d))
	}
	d, _ := ir.ParseTimeout("90s")
	assert.Equal(t, "1m30s", ir.FormatTimeout(d), "nft lists 90s as 1m30s")
	for _, bad := range []string{"", "10", "m", "10x", "1m1h", "1h1h", "10ms", "0s"} {
		_, ok := ir.ParseTimeout(bad)
		assert.False(t, ok, bad)
	}
}
