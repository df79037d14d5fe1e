package lang

import (
	"testing"

	"github.com/alecthomas/participle/v2"
	"github.com/stretchr/testify/require"
)

// withWhitespace is the policy grammar on regexpLexer, which keeps
// whitespace as tokens: the tree participle gives there is the one Parse
// must give without them.
var withWhitespace = participle.MustBuild[File](
	participle.Lexer(regexpLexer), participle.Elide("Comment", "Whitespace"), participle.UseLookahead(2))

func TestDroppedWhitespaceLeavesTheTree(t *testing.T) {
	corpus := append(lexerCorpus(t),
		"define A = { 192.0.2.1 , 192.0.2.2 }  \t # c\r\n",
		"define B = file(\"x\") \ndefine C \t\n",
		"ipv6 disable  lo   eth0 \t\n",
		"table inet t {\n set s { type ipv4_addr ; flags interval \t; elements = { 192.0.2.0/24 } }\n"+
			" chain c  hook input \t priority 0 policy drop {\n  option o { tcp dport 22 accept  } else { drop\t}\n"+
			"  ip saddr { 192.0.2.1,\n 192.0.2.2 }  counter   accept # x\n  meta mark & 0xff == 1 accept \r\n }\n}\n")
	parsed := 0
	for _, src := range corpus {
		if sameTreeWithWhitespace(t, src) {
			parsed++
		}
	}
	require.Greater(t, parsed, 20, "the corpus holds policies")
}

// sameTreeWithWhitespace fails unless Parse gives src the tree the grammar
// gives it with whitespace tokens kept; false when src does not parse.
func sameTreeWithWhitespace(t testing.TB, src string) bool {
	want, err := withWhitespace.ParseString("t.ks", src)
	if err != nil {
		return false
	}
	if _, bad := checkText("t.ks", []byte(src)); bad {
		return false // Parse refuses it before the grammar sees it
	}
	got, ds := Parse("t.ks", []byte(src))
	require.Empty(t, ds, "%q", src)
	require.Equal(t, want, got, "%q", src)
	return true
}
