package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every example states its promises in a .kst beside it, and keeps them.
func TestExamplesKeepTheirPromises(t *testing.T) {
	examples := policiesWithPromises(t)
	for _, ex := range examples {
		t.Run(filepath.Base(ex), func(t *testing.T) {
			_, err := os.Stat(strings.TrimSuffix(ex, ".ks") + ".kst")
			require.NoError(t, err, "every example has a .kst of its promises")
			code, stdout, stderr := ksc("test", ex)
			assert.Equal(t, 0, code, stdout+stderr)
			assert.Regexp(t, `^[1-9]\d* passed, 0 failed\n$`, stdout)
		})
	}
}

// realWarnings are the warnings ksc check gives the real configurations,
// each true of the ruleset as written: Mullvad's accepts neighbour
// advertisements to fe80::/10 in a rule just before one that accepts
// every neighbour advertisement.
var realWarnings = map[string][]string{
	"mullvad-connected.nft": {"mullvad-connected.nft:52:3: warning: this rule changes no verdict: without it, the rule at ../../testdata/real/mullvad-connected.nft:53:3 would accept every packet it takes"},
}

// Rulesets as users write them compile as written and keep their promises.
func TestRealConfigurationsKeepTheirPromises(t *testing.T) {
	for policy, kst := range realConfigurations(t) {
		t.Run(filepath.Base(policy), func(t *testing.T) {
			code, _, stderr := ksc("check", policy)
			assert.Equal(t, 0, code, stderr)
			want := realWarnings[filepath.Base(policy)]
			assert.Equal(t, len(want), strings.Count(stderr, ": warning: "), stderr)
			for _, w := range want {
				assert.Contains(t, stderr, w)
			}
			code, stdout, stderr := ksc("test", policy, kst)
			assert.Equal(t, 0, code, stdout+stderr)
			assert.Regexp(t, `^[1-9]\d* passed, 0 failed\n$`, stdout)
		})
	}
}

// realConfigurations maps each ruleset of testdata/real to its promises.
func realConfigurations(t *testing.T) map[string]string {
	t.Helper()
	policies, err := filepath.Glob("../../testdata/real/*.nft")
	require.NoError(t, err)
	require.NotEmpty(t, policies)
	out := map[string]string{}
	for _, p := range policies {
		out[p] = strings.TrimSuffix(p, ".nft") + ".kst"
	}
	return out
}

// policiesWithPromises lists the examples, each of which must have a .kst,
// and the test policies that have one.
func policiesWithPromises(t *testing.T) []string {
	t.Helper()
	examples, err := filepath.Glob("../../examples/*.ks")
	require.NoError(t, err)
	require.NotEmpty(t, examples)
	kst, err := filepath.Glob("../../testdata/policies/*.kst")
	require.NoError(t, err)
	require.NotEmpty(t, kst)
	for _, k := range kst {
		examples = append(examples, strings.TrimSuffix(k, ".kst")+".ks")
	}
	return examples
}
