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

// ksc diff --packets reads the live ruleset as ksc import does and says
// what applying the policy would change for packets: nothing for the
// policy in force, the port it opens for one more rule.
func TestDiffPacketsAgainstTheLiveRuleset(t *testing.T) {
	labtest.Require(t, "nft")
	useRunDir(t)
	ns := labtest.NewNS(t, "diffpackets")
	require.Equal(t, 0, first(ksc("apply", server, "--netns", ns.Name)))
	code, stdout, stderr := ksc("diff", server, "--netns", ns.Name, "--packets")
	assert.Equal(t, 0, code, stdout+stderr)
	assert.Empty(t, stdout)

	src, err := os.ReadFile(server)
	require.NoError(t, err)
	more := strings.Replace(string(src), "tcp dport $WEB_PORTS accept", "tcp dport $WEB_PORTS accept\n\t\ttcp dport 8080 accept", 1)
	require.NotEqual(t, string(src), more)
	path := filepath.Join(t.TempDir(), "more.ks")
	require.NoError(t, os.WriteFile(path, []byte(more), 0o644))
	code, stdout, stderr = ksc("diff", path, "--netns", ns.Name, "--packets")
	assert.Equal(t, 1, code, stdout+stderr)
	assert.Contains(t, stdout, `opens in iifname != "lo" meta l4proto tcp th dport 8080`)
	assert.Contains(t, stdout, "  e.g. in eth0 tcp 192.0.2.2:40000 198.51.100.9:8080: drop by the live ruleset:")
}

// iptables-save output is imported as iptables-nft-restore translates it,
// in a throwaway namespace: Docker's rules, but those ksc cannot say.
func TestImportIptablesSave(t *testing.T) {
	labtest.Require(t, "nft", "iptables-nft-restore")
	code, policy, stderr := ksc("import", "--iptables", "../../testdata/machine/docker.rules")
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stderr, "ksc import: 5 not imported")
	assert.Contains(t, policy, "\t\toifname != \"docker0\" ip saddr 198.51.100.0/25 counter packets 0 bytes 0 masquerade\n")
	assert.Contains(t, policy, "# ksc import: not imported (unknown match or statement \"xt\"): iifname \"eth0\" tcp dport 2222 xt match recent")
	code, _, stderr = ksc("import", "--iptables", "../../testdata/machine/docker.rules", "x.nft")
	assert.Equal(t, 2, code, stderr)
}

// A ruleset in nft's JSON imports as its text listing does.
func TestImportJSON(t *testing.T) {
	labtest.Require(t, "nft")
	ns := labtest.NewNS(t, "json")
	ns.Exec(t, "nft", "-f", "../../testdata/machine/others.nft")
	dir := t.TempDir()
	for name, args := range map[string][]string{"r.json": {"-j", "list", "ruleset"}, "r.nft": {"list", "ruleset"}} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(ns.Exec(t, append([]string{"nft"}, args...)...)), 0o644))
	}
	code, fromText, stderr := ksc("import", filepath.Join(dir, "r.nft"))
	require.Equal(t, 0, code, stderr)
	code, fromJSON, stderr := ksc("import", "--json", filepath.Join(dir, "r.json"))
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, fromText, fromJSON)
	code, _, _ = ksc("import", "--json", "--live")
	assert.Equal(t, 2, code)
}
