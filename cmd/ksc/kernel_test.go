package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/internal/netlab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ksc runs the command in process and returns its exit status and output.
func ksc(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestApplySysctlInNamespace(t *testing.T) {
	netlab.Require(t)
	useRunDir(t)
	ns := netlab.NewNS(t, "cli")
	read := func() string {
		return strings.TrimSpace(ns.Exec(t, "cat", "/proc/sys/net/ipv6/conf/all/disable_ipv6", "/proc/sys/net/ipv6/conf/lo/disable_ipv6"))
	}
	policy := filepath.Join("..", "..", "examples", "ivpn-killswitch.ks")
	code, _, stderr := ksc("apply", policy, "--target", "sysctl", "--netns", ns.Name)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "1\n1", read())
	code, _, stderr = ksc("apply", policy, "--target", "sysctl", "--netns", ns.Name, "--undo")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "0\n0", read())

	// A namespace that does not exist is an error, and nothing is written.
	code, _, stderr = ksc("apply", policy, "--target", "sysctl", "--netns", "ksc-no-such-namespace")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "network namespace /var/run/netns/ksc-no-such-namespace")
	_, err := os.Stat("/var/run/netns/ksc-no-such-namespace")
	assert.True(t, os.IsNotExist(err))
}
