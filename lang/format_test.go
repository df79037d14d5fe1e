package lang_test

import (
	"os"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFormat(t *testing.T) {
	messy := "define A={1,2,\n  3}   # ports\n\n\n\ntable t{\n  chain c hook input policy drop{\n\n  option ssh { tcp dport 22 accept }\n\n\n  option q { drop } else { accept }; ct state new , invalid drop\n\n}\n}\n"
	want := `define A = { 1, 2,
	3 } # ports

table t {
	chain c hook input policy drop {
		option ssh {
			tcp dport 22 accept
		}

		option q {
			drop
		} else {
			accept
		}
		ct state new,invalid drop
	}
}
`
	got, ds := lang.Format("m.ks", []byte(messy))
	require.False(t, ds.HasErrors(), "%v", ds)
	assert.Equal(t, want, string(got))
	again, _ := lang.Format("m.ks", got)
	assert.Equal(t, want, string(again), "formatting must be idempotent")

	_, ds = lang.Format("bad.ks", []byte("table t {\n"))
	assert.True(t, ds.HasErrors(), "a policy that does not parse is not formatted")
}

// Formatting every example and golden policy is idempotent and changes
// nothing the policy compiles to.
// A value written of words and $NAMEs without space ("$HOST:$PORT",
// ":$PORT") stays one value: a space would split it in two.
func TestFormatKeepsGluedValues(t *testing.T) {
	src := "table t {\nchain c type nat hook prerouting priority dstnat {\ntcp dport 1 dnat ip to $HOST:$PORT\ntcp dport 2 redirect to :$PORT\ntcp dport 3 dnat ip to 192.0.2.1:$PORT\n}\n}\n"
	got, ds := lang.Format("g.ks", []byte(src))
	require.False(t, ds.HasErrors(), "%v", ds)
	for _, v := range []string{"to $HOST:$PORT", "to :$PORT", "to 192.0.2.1:$PORT"} {
		assert.Contains(t, string(got), v)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, c := range golden.Cases(t) {
		src, err := os.ReadFile(golden.Root(t) + "/" + c.Path)
		require.NoError(t, err)
		formatted, ds := lang.Format(c.Path, src)
		require.False(t, ds.HasErrors(), "%s: %v", c.Name, ds)
		again, _ := lang.Format(c.Path, formatted)
		assert.Equal(t, string(formatted), string(again), "%s: not idempotent", c.Name)

		cfg := c.Config
		cfg.Dir = golden.Root(t) + "/" + dirOf(c.Path)
		before, ds := lang.Load(c.Path, src, cfg)
		require.False(t, ds.HasErrors(), "%v", ds)
		after, ds := lang.Load(c.Path, formatted, cfg)
		require.False(t, ds.HasErrors(), "%s formatted: %v\n%s", c.Name, ds, formatted)
		assert.Equal(t, string(golden.NFT(t, before)), string(golden.NFT(t, after)), c.Name)
	}
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i]
		}
	}
	return "."
}

// The test policies are written in the canonical layout, so that a change
// of the layout (like "&(" for nft's "& (" after a mask) shows here.
func TestTestPoliciesAreFormatted(t *testing.T) {
	for _, c := range golden.Cases(t) {
		if !strings.HasPrefix(c.Path, "testdata/policies/") {
			continue
		}
		src, err := os.ReadFile(golden.Root(t) + "/" + c.Path)
		require.NoError(t, err)
		formatted, ds := lang.Format(c.Path, src)
		require.False(t, ds.HasErrors(), "%s: %v", c.Name, ds)
		assert.Equal(t, string(src), string(formatted), "%s is not in the canonical layout", c.Path)
	}
}
