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
	examples, err := filepath.Glob("../../examples/*.ks")
	require.NoError(t, err)
	require.NotEmpty(t, examples)
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
