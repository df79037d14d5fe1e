package lang

import (
	"fmt"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parallelCases are policies whose chains the cutter must cut right:
// rules on the brace's lines, option blocks and sets over several lines,
// braces and '#' in strings and comments, ';' separators, CRLF.
var parallelCases = []string{
	"define A = { 192.0.2.1, 192.0.2.2,\n 192.0.2.3 , $B, \"e,}\" # a, comment }\n, 198.51.100.0/24 }\ndefine B = 192.0.2.9\n",
	"table t {\nset s {\ntype ipv4_addr\nflags interval\nelements = { 192.0.2.0/24, 198.51.100.1,\n\t203.0.113.7 }\n}\n}\n",
	"table t {\nchain c hook input { accept\n drop\n tcp dport 1 accept }\n}\n",
	"table t {\n\tchain c hook input {\n\t\tip saddr {\n\t\t\t192.0.2.1,\n\t\t\t192.0.2.2\n\t\t} accept\n\t\tdrop\n\t}\n}\n",
	"table t {\nchain c hook input {\noption lan {\n accept\n drop\n} else {\n drop\n}\nlog prefix \"{ # }\" drop # } {\n\n}\n}\n",
	"table t {\r\nchain c hook input {\r\naccept; drop\r\n\r\ncounter accept\r\n}\r\n}\r\n",
	"table t {\nset s {\ntype ipv4_addr\nelements = { 192.0.2.1,\n192.0.2.2 }\n}\nchain a hook input {\naccept\n}\nchain b {\nreturn\ndrop\n}\n}\n",
	"define X = { 1,\n2 }\ntable t { chain c hook input {\ntcp dport $X accept\n}\n}\ntable u {\nchain c hook output {\ndrop\n}\n}\n",
}

// parallelCorpus is every policy the lexer is held to, and the cases above.
// setFallbacks are set literals the cutter cuts and the runs leave to the
// sequential parse: elements other than words, variables and strings, an
// error, and text other than ASCII.
var setFallbacks = []string{
	"define A = { a, { b, c }, d }\n", "define F = { file(\"x\"), a }\n", "define G = { a b, c,, }\n",
	"define E = {}\ndefine U = { \"é\", a, b }\n",
}

func parallelCorpus(t testing.TB) []string {
	return append(append(lexerCorpus(t), parallelCases...), setFallbacks...)
}

// A policy cut into runs as small as a line parses to the tree the
// sequential parse gives, positions included; on an error neither gives
// a tree.
func TestParallelParseIsSequential(t *testing.T) {
	for i, src := range parallelCorpus(t) {
		t.Run(fmt.Sprint(i), func(t *testing.T) { parallelIsSequential(t, src) })
	}
	for _, src := range parallelCases {
		_, ok := parseInParallel("p.ks", []byte(src), 2, 1)
		assert.True(t, ok, "cut in runs:\n%s", src)
	}
}

func FuzzParallelParseIsSequential(f *testing.F) {
	for _, src := range append(parallelCases, setFallbacks...) {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src string) { parallelIsSequential(t, src) })
}

func parallelIsSequential(t *testing.T, src string) {
	sequential, err := fileParser().ParseString("p.ks", src)
	for _, workers := range []int{2, 3} {
		for _, size := range []int{1, 40} {
			parallel, ok := parseInParallel("p.ks", []byte(src), workers, size)
			if err != nil {
				assert.False(t, ok, "the sequential parse fails (%v), so the parallel one must give up", err)
				continue
			}
			if ok {
				require.Equal(t, sequential, parallel, "workers %d, runs of %d bytes:\n%s", workers, size, src)
			}
		}
	}
}

// A large set literal is in fact cut after its commas, and its elements
// put back in order.
func TestLargeSetIsParsedInRuns(t *testing.T) {
	var b strings.Builder
	b.WriteString("define BLOCK = { ")
	for i := range 5000 {
		fmt.Fprintf(&b, "192.0.%d.%d, ", i/256, i%256)
		if i%700 == 0 {
			b.WriteString("\n\t")
		}
	}
	b.WriteString("\"e\" }\ntable t {\nset s {\ntype ipv4_addr\nelements = $BLOCK\n}\n}\n")
	parallel := parsedInRuns(t, b.String())
	require.Len(t, parallel.Items[0].Define.Value.Set.Elems, 5001)
}

// A large policy is in fact cut, and its runs put back in order.
func TestLargePolicyIsParsedInRuns(t *testing.T) {
	var b strings.Builder
	b.WriteString("table inet t {\n\tchain c hook input policy drop {\n")
	for i := range 5000 {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "\t\tip saddr 192.0.2.%d tcp dport %d accept # rule %d\n", i%256, i, i)
		case 1:
			fmt.Fprintf(&b, "\t\tip daddr { 192.0.2.1, 198.51.100.%d } tcp dport { 22, %d } counter drop\n", i%256, i)
		default:
			fmt.Fprintf(&b, "\t\tmeta mark and 0xff == %d ct state != { established, related } log prefix \"r%d: \" reject\n", i%256, i)
		}
	}
	b.WriteString("\t}\n}\n")
	parsedInRuns(t, b.String())
}

// parsedInRuns requires src to be cut into more than ten runs of 4 KiB, and
// their parse to be the sequential one.
func parsedInRuns(t *testing.T, src string) *File {
	t.Helper()
	runs, ok := cutChains("p.ks", []byte(src), 4096)
	require.True(t, ok)
	require.Greater(t, len(runs), 10)
	parallel, ok := parseInParallel("p.ks", []byte(src), 4, 4096)
	require.True(t, ok)
	sequential, err := fileParser().ParseString("p.ks", src)
	require.NoError(t, err)
	require.Equal(t, sequential, parallel)
	return parallel
}

// chainBodyGrammar is the grammar parseBody reads by hand: a chain's items
// as they sit between its braces.
type chainBodyGrammar struct {
	Items []*ChainItem `parser:"(EOL | \";\")* ( @@ (EOL | \";\")* )*"`
}

var bodyGrammar = participle.MustBuild[chainBodyGrammar](options...)

var bodyCases = []string{
	"", "\n;\n", "accept", "tcp dport 22 accept; udp dport 53 accept\n\n drop",
	"option lan {\n accept\n} else { drop }\nlog prefix \"a\" drop # c\n",
	"option lan { accept } option wan { drop }", "option { accept }", "option x", "accept option x { drop }",
	"ip saddr {\n 192.0.2.1,\n 192.0.2.2\n} accept", "meta mark & 0xff == 1 accept", "}", "accept }", "( drop",
}

func FuzzBodyIsTheGrammars(f *testing.F) {
	for _, src := range append(bodyCases, lexerCorpus(f)...) {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src string) { bodyIsTheGrammars(t, src) })
}

func TestBodyIsTheGrammars(t *testing.T) {
	for _, src := range append(bodyCases, lexerCorpus(t)...) {
		bodyIsTheGrammars(t, src)
	}
}

// bodyIsTheGrammars fails unless parseBody gives src the items
// chainBodyGrammar gives it, or fails where the grammar fails. It may also
// fail where the grammar reads a rule that starts with the word "option"
// (the caller then parses with the grammar).
func bodyIsTheGrammars(t *testing.T, src string) {
	want, wantErr := bodyGrammar.ParseString("b.ks", src)
	lex, err := lexer.Upgrade(&handScanner{def: policyLexer, data: src, pos: lexer.Position{Filename: "b.ks", Line: 1, Column: 1}}, policyLexer.comment)
	if err != nil {
		require.Error(t, wantErr, "%q: only the grammar lexes it", src)
		return
	}
	got, gotErr := parseBody(lex)
	switch {
	case wantErr != nil:
		require.Error(t, gotErr, "%q: the grammar refuses it (%v)", src, wantErr)
	case gotErr != nil:
		require.Contains(t, src, "option", "%q: the grammar reads it, parseBody does not (%v)", src, gotErr)
	default:
		require.Equal(t, want.Items, got.Items, "%q", src)
	}
}
