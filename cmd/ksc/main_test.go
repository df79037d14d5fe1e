package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/enforce"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/ir"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stretchr/testify/assert"
)

// TestMain lets scripts run "ksc" as a command, in this test binary.
// A ksc run as a process of its own by a test finds its run directory in
// $KSC_TEST_RUN_DIR.
func TestMain(m *testing.M) {
	if dir := os.Getenv("KSC_TEST_RUN_DIR"); dir != "" {
		enforce.RunDir = dir
	}
	testscript.Main(m, map[string]func(){"ksc": main})
}

// TestScripts runs the command-line tests in testdata/script, each in a
// fresh directory holding a copy of the examples.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: golden.Updating(), // -update rewrites testdata/script/*.txtar
		Setup: func(env *testscript.Env) error {
			examples, err := filepath.Glob("../../examples/*.ks")
			if err != nil {
				return err
			}
			for _, f := range examples {
				data, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(env.WorkDir, filepath.Base(f)), data, 0o644); err != nil {
					return err
				}
			}
			return nil
		},
	})
}

// A diagnostic repeated (the same line, the same words) is printed once.
func TestDiagnosticsPrintOnce(t *testing.T) {
	var ds ir.Diagnostics
	for range 3 {
		ds.Warnf(ir.Pos{File: "p.ks", Line: 2, Col: 3}, "$X is defined but never used")
	}
	ds.Errorf(ir.Pos{File: "p.ks", Line: 4, Col: 1}, "bad")
	ds.Errorf(ir.Pos{File: "p.ks", Line: 4, Col: 1}, "bad")
	var out strings.Builder
	printDiagnostics(&out, ds, nil)
	assert.Equal(t, "p.ks:2:3: warning: $X is defined but never used\np.ks:4:1: bad\n", out.String())
}
