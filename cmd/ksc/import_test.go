package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// counters are a live ruleset's counts, which are state, not policy.
var counters = regexp.MustCompile(`counter packets \d+ bytes \d+`)

// A ruleset loaded with nft -f, imported from the kernel (ksc import
// --live) and applied by ksc lists as it did: every line, but those of
// the two forms ksc writes otherwise on purpose (docs/language.md): a
// verdict map, one rule a key; a meter, a declared set a rule adds to.
func TestImportRoundTrip(t *testing.T) {
	labtest.Require(t, "nft")
	useRunDir(t)
	files, err := filepath.Glob("../../testdata/real/*.nft")
	require.NoError(t, err)
	imported, same, lines := 0, 0, 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		before := labtest.NewNS(t, "import")
		if _, err := before.ExecInput(string(src), "nft", "-f", "-"); err != nil {
			continue // nft 1.0.6 refuses it (destroy, a newer keyword)
		}
		want := counters.ReplaceAllString(before.Exec(t, "nft", "list", "ruleset"), "counter packets 0 bytes 0")
		code, policy, stderr := ksc("import", "--live", "--netns", before.Name)
		require.Equal(t, 0, code, "%s: %s", f, stderr)
		path := filepath.Join(t.TempDir(), "imported.ks")
		require.NoError(t, os.WriteFile(path, []byte(policy), 0o644))
		after := labtest.NewNS(t, "imported")
		code, _, stderr = ksc("apply", path, "--netns", after.Name)
		require.Equal(t, 0, code, "%s: %s", f, stderr)
		got := after.Exec(t, "nft", "list", "ruleset")
		imported++
		for _, l := range strings.Split(want, "\n") {
			if strings.Contains(l, " vmap ") || strings.Contains(l, " meter ") {
				continue
			}
			lines++
			if assert.Contains(t, got, l+"\n", "%s: a line of the ruleset is not in the imported policy's listing", filepath.Base(f)) {
				same++
			}
		}
	}
	t.Logf("%d rulesets imported, %d of %d listed lines (verdict maps and meters aside) identical", imported, same, lines)
	require.GreaterOrEqual(t, imported, 6)
}
