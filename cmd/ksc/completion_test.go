package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/enforce"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// generated runs "ksc ARGS" in process and returns its output.
func generated(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut strings.Builder
	require.Equal(t, exitOK, run(args, strings.NewReader(""), &out, &errOut), "%s", errOut.String())
	return out.String()
}

// Every listed command and every flag it defines is in each completion
// script and in the manual: they are written from the command table and
// the commands' own flag sets, so a flag added to a command is in them.
func TestCompletionAndManualNameEveryCommandAndFlag(t *testing.T) {
	bash, zsh, fish, man := generated(t, "completion", "bash"), generated(t, "completion", "zsh"), generated(t, "completion", "fish"), generated(t, "man")
	cmds := documentedCommands()
	require.Greater(t, len(cmds), 15)
	has := func(script, what string, pattern string) {
		t.Helper()
		assert.True(t, regexp.MustCompile(pattern).MatchString(script), "%s lacks %s", what, pattern)
	}
	flags := 0
	for _, c := range cmds {
		has(bash, "bash", `\t`+c.Name+`\)`)
		has(zsh, "zsh", `'`+c.Name+`:`)
		has(fish, "fish", `-a `+c.Name+` `)
		has(man, "man", `\.SS "ksc `+c.Name+`"`)
		for _, f := range c.Flags {
			flags++
			long := regexp.QuoteMeta("--" + f.Name)
			has(bash, "bash", `[' ]`+long+`[' ]`)
			has(zsh, "zsh", long+`}?\[`)
			has(fish, "fish", `-l `+regexp.QuoteMeta(f.Name)+` `)
			has(man, "man", regexp.QuoteMeta(`\-\-`+f.Name))
			if f.Shorthand != "" {
				short := regexp.QuoteMeta("-" + f.Shorthand)
				has(bash, "bash", `[' ]`+short+`[' ]`)
				has(zsh, "zsh", `\{`+short+`,`+long+`\}`)
				has(fish, "fish", `-s `+regexp.QuoteMeta(f.Shorthand)+` `)
				has(man, "man", regexp.QuoteMeta(`\fB\-`+f.Shorthand+`\fR`))
			}
		}
	}
	assert.Greater(t, flags, 50, "the commands' flags were read")
	_, listed := lookupCommand(enforce.GuardCommand)
	assert.True(t, listed, "the guard is in the table")
	assert.NotContains(t, bash, enforce.GuardCommand, "but it is no command for people")
}

// needTool finds a program a test needs; CI installs it (make deps), so
// there it must be present.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(labtest.RequireEnv) != "" {
			t.Fatalf("%s is missing: make deps installs it", name)
		}
		t.Skipf("%s is missing (make deps installs it)", name)
	}
	return path
}

// Each script is valid in its shell and completes what it should there.
func TestCompletionScriptsWorkInTheirShells(t *testing.T) {
	dir := t.TempDir()
	write := func(shell string) string {
		path := filepath.Join(dir, "ksc."+shell)
		require.NoError(t, os.WriteFile(path, []byte(generated(t, "completion", shell)), 0o644))
		return path
	}
	t.Run("bash", func(t *testing.T) {
		bash := needTool(t, "bash")
		script := write("bash")
		out, err := exec.Command(bash, "-n", script).CombinedOutput()
		require.NoError(t, err, "%s", out)
		complete := func(words ...string) []string {
			cmd := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _ksc; printf '%s\n' "${COMPREPLY[@]}"`
			out, err := exec.Command(bash, append([]string{"-c", cmd, "bash", script}, words...)...).CombinedOutput()
			require.NoError(t, err, "%s", out)
			return strings.Fields(string(out))
		}
		assert.ElementsMatch(t, []string{"compile", "completion", "confirm"}, complete("ksc", "co"))
		assert.Equal(t, []string{"--target"}, complete("ksc", "compile", "--tar"))
		assert.Equal(t, []string{"nft", "iptables", "sysctl"}, complete("ksc", "apply", "--backend", ""))
		assert.Equal(t, []string{"auto", "nft", "legacy"}, complete("ksc", "status", "--iptables-mode", ""))
		assert.Empty(t, complete("ksc", "apply", "--confirm", ""), "a duration is no file")
	})
	t.Run("zsh", func(t *testing.T) {
		out, err := exec.Command(needTool(t, "zsh"), "-n", write("zsh")).CombinedOutput()
		require.NoError(t, err, "%s", out)
	})
	t.Run("fish", func(t *testing.T) {
		fish := needTool(t, "fish")
		script := write("fish")
		out, err := exec.Command(fish, "-n", script).CombinedOutput()
		require.NoError(t, err, "%s", out)
		complete := func(line string) string {
			out, err := exec.Command(fish, "-c", `source $argv[1]; complete -C $argv[2]`, script, line).CombinedOutput()
			require.NoError(t, err, "%s", out)
			return string(out)
		}
		assert.Contains(t, complete("ksc comp"), "compile\t")
		assert.Contains(t, complete("ksc compile --tar"), "--target\t")
		assert.Contains(t, complete("ksc watch --backend "), "iptables")
	})
}

// The manual is roff that groff reads without a warning.
func TestManualIsCleanRoff(t *testing.T) {
	groff := needTool(t, "groff")
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(generated(t, "man"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Empty(t, string(out), "groff warnings")
}
