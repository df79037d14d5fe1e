package lang_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The grammar is derived from the syntax tree's tags; the golden file shows
// every change to it in review, and the reference must print it verbatim.
func TestGrammarIsDocumented(t *testing.T) {
	grammar := lang.Grammar() + "\n"
	golden.Check(t, filepath.Join(golden.Root(t), "testdata", "golden", "grammar.ebnf"), []byte(grammar))
	doc, err := os.ReadFile(filepath.Join(golden.Root(t), "docs", "language.md"))
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(doc), "```ebnf\n"+grammar+"```"),
		"docs/language.md must hold the grammar from testdata/golden/grammar.ebnf in an ebnf block")
}
