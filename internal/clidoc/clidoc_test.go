package clidoc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostile is a command whose texts hold every character the scripts and
// the manual must escape.
func hostile() []Command {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.String("name", "", "it's [a] `VALUE`: with \"quotes\", $(touch pwned) and \\ back")
	fs.StringP("mode", "m", "a", "one of: a, b")
	OneOf(fs, "mode", "a", "b")
	var flags []*pflag.Flag
	fs.VisitAll(func(f *pflag.Flag) { flags = append(flags, f) })
	return []Command{{Name: "run", Summary: `don't "stop": $(touch pwned) [now]`,
		Usage: ".TH hidden\n'also\nback\\slash", Flags: flags}}
}

// Texts reach each shell as data: sourcing the scripts runs nothing they
// hold, and every script stays valid.
func TestTextsAreQuotedForEachShell(t *testing.T) {
	dir := t.TempDir()
	for shell, write := range map[string]func(string, []Command) string{"bash": Bash, "zsh": Zsh, "fish": Fish} {
		path, err := exec.LookPath(shell)
		if err != nil {
			if os.Getenv("KSC_REQUIRE_KERNEL_TESTS") != "" {
				t.Fatalf("%s is missing: make deps installs it", shell)
			}
			t.Logf("%s is missing (make deps installs it): not sourced", shell)
			continue
		}
		script := filepath.Join(dir, "x."+shell)
		require.NoError(t, os.WriteFile(script, []byte(write("x", hostile())), 0o644))
		cmd := exec.Command(path, "-c", "source "+script)
		if shell == "zsh" {
			cmd = exec.Command(path, "-n", script) // a #compdef file runs only under compinit
		}
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s: %s", shell, out)
		assert.NoFileExists(t, filepath.Join(dir, "pwned"), shell)
	}
}

func TestManualEscapesRequests(t *testing.T) {
	page := Man(Page{Program: "x", Version: "1", OneLine: "a tool", Description: ".so /etc/passwd"}, hostile())
	for _, line := range strings.Split(page, "\n") {
		assert.False(t, strings.HasPrefix(line, ".so") || strings.HasPrefix(line, ".TH hidden") || strings.HasPrefix(line, "'also"), "a request from the text: %q", line)
	}
	assert.Contains(t, page, `back\eslash`)
}

func TestProgramNamesArePlainWords(t *testing.T) {
	assert.Panics(t, func() { Bash("x; rm -rf /", nil) })
	assert.Equal(t, "_ksc_test", function("ksc-test"))
}
