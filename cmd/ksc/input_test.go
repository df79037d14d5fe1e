package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Input that is not one line of policy, or not a bounded file, is refused
// with the command's name before anything is read or written.
func TestInputLimits(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	killswitch := "../../examples/ivpn-killswitch.ks"
	for _, tc := range []struct {
		name string
		args []string
		want string
		code int
	}{
		{"a newline in an option name", []string{"check", killswitch, "-e", "lan\nx"},
			`invalid argument "lan\nx" for "-e, --enable" flag: "lan\nx" holds a control character; an option is one word`, exitUsage},
		{"a newline in a define value", []string{"compile", killswitch, "-D", "INET_DEV=\"eth0\"\nx"},
			`ksc compile: -D "INET_DEV=\"eth0\"\nx": holds a control character; a value is one line of policy syntax`, exitFailure},
		{"an escape in a define value", []string{"check", killswitch, "-D", "INET_DEV=\"eth0\x1b[2J\""},
			"holds a control character", exitFailure},
		{"a FIFO as the policy", []string{"fmt", fifo},
			"ksc fmt: " + fifo + ": not a regular file (a FIFO); give a file, or - for standard input", exitFailure},
		{"a FIFO as a set file", []string{"check", writePolicy(t, dir, `define S = file("fifo")`+"\n"+
			"table inet t {\n\tchain c hook input {\n\t\tip saddr $S drop\n\t}\n}\n")},
			"cannot read the set: " + fifo + ": not a regular file (a FIFO)", exitFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := ksc(tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tc.want)
		})
	}
}

// Standard input past the size limit is refused, not read to the end.
func TestStandardInputIsBounded(t *testing.T) {
	var stdout, stderr strings.Builder
	code := run([]string{"check", "-"}, zeros{}, &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Equal(t, "ksc check: standard input: larger than 64 MiB, the most ksc reads\n", stderr.String())
}

// zeros reads as an endless stream of NUL bytes, like /dev/zero.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func writePolicy(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "policy.ks")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}
