package lang

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/stretchr/testify/require"
)

// tokens lexes src with def to the end or the first error.
func tokens(t testing.TB, def lexer.Definition, src string) ([]lexer.Token, error) {
	l, err := def.(lexer.StringDefinition).LexString("t.ks", src)
	require.NoError(t, err)
	var out []lexer.Token
	for {
		tok, err := l.Next()
		if err != nil {
			return out, err
		}
		out = append(out, tok)
		if tok.EOF() {
			return out, nil
		}
	}
}

// regexpLexer is participle's lexer of tokenRules: what policyLexer must
// read by hand.
var regexpLexer = lexer.MustSimple(tokenRules)

// lexersAgree fails unless the hand-written lexer gives regexpLexer's
// tokens, positions and error for src, but for whitespace, which it drops
// (ends.go says why).
func lexersAgree(t testing.TB, src string) {
	all, wantErr := tokens(t, regexpLexer, src)
	space := regexpLexer.Symbols()["Whitespace"]
	want := slices.DeleteFunc(all, func(tok lexer.Token) bool { return tok.Type == space })
	if len(want) == 0 {
		want = nil // as the hand lexer has it when the first token is an error
	}
	got, gotErr := tokens(t, policyLexer, src)
	require.Equal(t, want, got, "tokens of %q", src)
	if wantErr == nil {
		require.NoError(t, gotErr, "%q", src)
		return
	}
	require.Error(t, gotErr, "%q", src)
	require.Equal(t, wantErr.Error(), gotErr.Error(), "%q", src)
	require.Equal(t, wantErr.(*lexer.Error).Pos, gotErr.(*lexer.Error).Pos, "%q", src)
}

// lexerCorpus is every policy of the repository, and text at the edges of
// each rule.
func lexerCorpus(t testing.TB) []string {
	var corpus []string
	for _, glob := range []string{"../examples/*.ks", "../testdata/policies/*.ks", "../cmd/ksc/testdata/script/*.txtar"} {
		files, err := filepath.Glob(glob)
		require.NoError(t, err)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			corpus = append(corpus, string(b))
		}
	}
	return append(corpus,
		"", "#", "#x\n", "\"", "\"a", "\"a\nb\"", "\"\"", "\"é\"", "$", "$1", "$_a1", "$a-b",
		"\r", "\r\n", "\r \n", " !", "a \t!", " \r\n", "\t\r\t", "\n\n", "!", "!=", "!==", "=", "==", "===", "&&",
		"{}=,;()&", "a.b:c/d*e+f|g-h_0", "é", "aé", "@set", "a\x00b", "x\ty # c\r\ny",
		strings.Repeat("€", 20), "tcp dport != { 22, 80 } accept\n", "ip saddr 2001:db8::/32",
		"tcp dport 22 \\\n\t\taccept\n", "a \\\r\nb", "\\", "a\\b", "\\\\\n", " \\\n\\\n ",
	)
}

func TestLexersAgree(t *testing.T) {
	require.Equal(t, regexpLexer.Symbols(), policyLexer.Symbols(), "the token types")
	for _, src := range lexerCorpus(t) {
		lexersAgree(t, src)
	}
}

// FuzzLexersAgree holds the hand-written lexer to its rules: the tokens
// of participle's own lexer of tokenRules but whitespace, and with them
// (and ends.go putting ends back) the tree participle gives with
// whitespace kept.
func FuzzLexersAgree(f *testing.F) {
	for _, src := range lexerCorpus(f) {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		lexersAgree(t, src)
		sameTreeWithWhitespace(t, src)
	})
}

func BenchmarkLexer(b *testing.B) {
	src, err := os.ReadFile("../examples/ivpn-killswitch.ks")
	require.NoError(b, err)
	var set strings.Builder
	set.WriteString("define BIG = {")
	for i := range 100_000 {
		set.WriteString(" 10.")
		set.WriteString(strings.Repeat("1", 1+i%3))
		set.WriteString(".0.1,")
	}
	set.WriteString(" 10.0.0.1 }\n")
	for _, c := range []struct {
		name string
		src  string
	}{{"example", string(src)}, {"inline-set-100k", set.String()}} {
		for _, def := range []struct {
			name string
			def  lexer.Definition
		}{{"regexp", regexpLexer}, {"hand", policyLexer}} {
			b.Run(c.name+"/"+def.name, func(b *testing.B) {
				b.SetBytes(int64(len(c.src)))
				for b.Loop() {
					if _, err := tokens(b, def.def, c.src); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
