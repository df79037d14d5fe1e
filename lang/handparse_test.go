package lang

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handCases are statements at the edges of File's grammar.
var handCases = []string{
	"", "\n", ";;\n;", "flush ruleset", "flush", "flush ruleset table t { }", "define a", "define a =", "define a = b c",
	"define a = { }", "define a = { b, c }\n", "define a = file(\"x\")", "define a = file(x)", "define a = file", "define a = file(\"x\"",
	"define a = $b", "define a = \"s\" # c\n", "define a=b;define c=d", "table t {}", "table inet t {\n}\n", "table inet t x {}",
	"table { }", "table t { set }", "table t { set s { } }", "table t { set s { type ipv4_addr; flags interval\n elements = { 192.0.2.1 } } }",
	"table t { set s { flags a, b,c } }", "table t { set s { flags a, } }", "table t { set s { size } }", "table t { set s { other x } }",
	"table t { chain c { } }", "table t { chain c type filter hook input priority 0; policy drop { accept } }",
	"table t { chain c hook input priority -100 policy drop {\n accept\n } }", "table t { chain c hook { } }", "table t { chain c policy }",
	"table t { chain c { option lan { accept } else { drop } } }", "table t { chain c { accept } chain d { drop } }", "table t { chain c { accept }",
	"table t { chain c { } } }", "table t { x }", "ipv6 disable", "ipv6 block a b $c \"d\" { e } file(\"f\")", "ipv6", "ipv6 x {",
	"other", "define a = b\ntable inet t {\n chain c hook output {\n  ip daddr $a accept # a\n  tcp dport { 22, 80 } drop\n }\n}\n",
}

func TestHandParseIsTheGrammar(t *testing.T) {
	for _, src := range append(handCases, lexerCorpus(t)...) {
		handParseIsTheGrammar(t, src)
	}
}

func FuzzHandParseIsTheGrammar(f *testing.F) {
	for _, src := range append(handCases, lexerCorpus(f)...) {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src string) { handParseIsTheGrammar(t, src) })
}

// handParseIsTheGrammar fails when parseByHand reads src other than File's
// grammar does, or reads what the grammar refuses. Where it declines, the
// grammar reads the file instead.
func handParseIsTheGrammar(t *testing.T, src string) {
	got, ok := parseByHand("h.ks", []byte(src))
	if !ok {
		return
	}
	want, err := fileParser().ParseString("h.ks", src)
	require.NoError(t, err, "%q: read by hand, refused by the grammar", src)
	require.Equal(t, want, got, "%q", src)
}

// The policies of the examples and tests are read by hand: the grammar is
// for the unusual and the wrong.
func TestPoliciesAreReadByHand(t *testing.T) {
	files, err := filepath.Glob("../examples/*.ks")
	require.NoError(t, err)
	more, err := filepath.Glob("../testdata/policies/*.ks")
	require.NoError(t, err)
	require.NotEmpty(t, more)
	for _, file := range append(files, more...) {
		src, err := os.ReadFile(file)
		require.NoError(t, err)
		_, ok := parseByHand(file, src)
		assert.True(t, ok, file)
	}
	for _, src := range handCases {
		if _, err := fileParser().ParseString("h.ks", src); err == nil {
			_, ok := parseByHand("h.ks", []byte(src))
			assert.True(t, ok, "%q: the grammar reads it, the hand parser does not", src)
		}
	}
}

// valueCases are values as -D gives them.
var valueCases = []string{"", "a", "$a", "\"a b\"", "{ a, b }", "{ a, { b } }", "{", "file(\"x\")", "file(x)", "file", "a b", "a # c", "{ a }}", ",", "!="}

// A -D value read by hand is the value Value's grammar reads.
func TestValueByHandIsTheGrammar(t *testing.T) {
	for _, src := range append(valueCases, lexerCorpus(t)...) {
		got, ok := valueByHand("v", src)
		want, err := valueParser().ParseString("v", src)
		if !ok {
			continue
		}
		require.NoError(t, err, "%q: read by hand, refused by the grammar", src)
		require.Equal(t, want, got, "%q", src)
	}
	for _, src := range []string{"a", "$a", "\"a b\"", "{ a, b }", "{ a, { b } }", "file(\"x\")", "a # c"} {
		_, ok := valueByHand("v", src)
		assert.True(t, ok, "%q is read by hand", src)
	}
}

// An option read by hand is the option Option's grammar reads, and the
// options of the examples and test policies are all read by hand.
func TestOptionByHandIsTheGrammar(t *testing.T) {
	cases := []string{"option lan { accept }", "option lan {\n accept\n drop\n} else {\n drop\n}", "option x { } else { }", "option x {}",
		"option x { accept } else", "option x { accept } else drop", "option x { accept }\nelse { drop }", "option { accept }", "option x",
		"option x { accept; drop } # c", "option x { { } }", "option x { accept } else { accept } else { drop }"}
	for _, src := range cases {
		lex, err := lexer.Upgrade(&handScanner{def: policyLexer, data: src, pos: lexer.Position{Filename: "o.ks", Line: 1, Column: 1}}, policyLexer.comment)
		require.NoError(t, err)
		got, handErr := (&handParser{lex}).option()
		want, err := optionParser().ParseString("o.ks", src, participle.AllowTrailing(true))
		if err != nil {
			assert.Error(t, handErr, "%q: read by hand, refused by the grammar", src)
			continue
		}
		require.NoError(t, handErr, "%q: the grammar reads it, the hand parser does not", src)
		assert.Equal(t, want, got, "%q", src)
	}
}
