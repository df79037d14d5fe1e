package lang

import (
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// setCases are sets the fast path reads and sets it leaves to the grammar.
var setCases = []string{
	"{ 192.0.2.1, 198.51.100.0/24, 2001:db8::/32 }",
	"{\n\t192.0.2.1,\n\t192.0.2.2\n}",
	`{ "eth0" "wg0", $VPN }`,
	"{ 1, { 2, 3 }, file(\"x\") }",
	"{ 1, , 2 }",
	"{ , 1 }",
	"{ 1 2",
	"{ 1 ; 2 }",
	"{}",
	"{ 1, }",
	"{ file }",
}

// SetLit.Parse and the grammar it stands for read every set alike: the
// same elements at the same positions, or the same error.
func TestSetFastPathIsTheGrammar(t *testing.T) {
	for _, src := range setCases {
		fast, fastErr := parseSet(src, true)
		slow, slowErr := parseSet(src, false)
		if slowErr != nil {
			require.Error(t, fastErr, src)
			assert.Equal(t, slowErr.Error(), fastErr.Error(), src)
			continue
		}
		require.NoError(t, fastErr, src)
		assert.Equal(t, slow, fast, src)
	}
}

func FuzzSetFastPathIsTheGrammar(f *testing.F) {
	for _, src := range setCases {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if !strings.HasPrefix(src, "{") {
			return // not a set: the grammar's other values
		}
		fast, fastErr := parseSet(src, true)
		slow, slowErr := parseSet(src, false)
		if (fastErr == nil) != (slowErr == nil) {
			t.Fatalf("%q: fast path %v, grammar %v", src, fastErr, slowErr)
		}
		if slowErr != nil {
			if fastErr.Error() != slowErr.Error() {
				t.Fatalf("%q: fast path %q, grammar %q", src, fastErr, slowErr)
			}
			return
		}
		assert.Equal(t, slow, fast, src)
	})
}

// parseSet reads src as one set, by SetLit.Parse (fast) or by setGrammar.
func parseSet(src string, fast bool) ([]*Value, error) {
	if fast {
		v, err := valueParser().ParseString("s.ks", src)
		if err != nil {
			return nil, err
		}
		if v.Set == nil {
			return nil, participle.Errorf(v.Pos, "not a set")
		}
		ends{[]byte(src)}.value(v)
		return v.Set.Values(), nil
	}
	g, err := setLitParser().ParseString("s.ks", src)
	if err != nil {
		return nil, err
	}
	for _, v := range g.Elems {
		ends{[]byte(src)}.value(v)
	}
	return g.Elems, nil
}

// A set's words and strings are held as scalars, not Values: a Value, its
// string and a pointer to it were most of the memory of a large set. The
// grammar's tree is what Values gives (TestSetFastPathIsTheGrammar).
func TestPlainSetElementsAreScalars(t *testing.T) {
	v, err := valueParser().ParseString("s.ks", `{ 192.0.2.1, "eth0", $VPN, { 2 } }`)
	require.NoError(t, err)
	require.NotNil(t, v.Set)
	held := make([]bool, len(v.Set.Elems))
	for i, e := range v.Set.Elems {
		held[i] = e.value != nil
	}
	// The nested set sends the whole set to the grammar, which holds Values.
	assert.Equal(t, []bool{true, true, true, true}, held)

	v, err = valueParser().ParseString("s.ks", `{ 192.0.2.1, "eth0", $VPN }`)
	require.NoError(t, err)
	held = held[:0]
	for _, e := range v.Set.Elems {
		held = append(held, e.value != nil)
	}
	assert.Equal(t, []bool{false, false, true}, held, "a word, a string, a $NAME")
	assert.Equal(t, `"eth0"`, *v.Set.Value(1).String)
	assert.Equal(t, "eth0", v.Set.Elems[1].scalar())
}
