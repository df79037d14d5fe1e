package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/backends/sysctl"

	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --undo restores what was there before ksc, interface by interface: IPv6
// that was off before stays off. A second apply keeps the first record.
func TestSysctlUndoRestoresTheRecordedValues(t *testing.T) {
	labtest.Require(t)
	useRunDir(t)
	ns := labtest.NewNS(t, "sysctl")
	ns.Exec(t, "ip", "link", "add", "d0.5", "type", "veth", "peer", "name", "d1")
	ns.Exec(t, "sysctl", "-qw", "net.ipv6.conf.d0/5.disable_ipv6=1")
	read := func(key string) string { return strings.TrimSpace(ns.Exec(t, "sysctl", "-n", key)) }
	policy := "../../examples/ivpn-killswitch.ks"

	code, _, stderr := ksc("apply", policy, "-t", "sysctl", "--netns", ns.Name)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "1", read("net.ipv6.conf.lo.disable_ipv6"))
	code, _, stderr = ksc("apply", policy, "-t", "sysctl", "--netns", ns.Name)
	require.Equal(t, 0, code, stderr)
	record, err := os.ReadFile(filepath.Join(sysctl.StateDir, "sysctl-netns-"+ns.Name+".before"))
	require.NoError(t, err)
	assert.Contains(t, string(record), "net.ipv6.conf.lo.disable_ipv6 = 0\n", "the second apply kept the first record")

	code, _, stderr = ksc("apply", policy, "-t", "sysctl", "--undo", "--netns", ns.Name)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "restored the IPv6 settings recorded before ksc disabled it")
	assert.Equal(t, "0", read("net.ipv6.conf.all.disable_ipv6"))
	assert.Equal(t, "0", read("net.ipv6.conf.lo.disable_ipv6"))
	assert.Equal(t, "1", read("net.ipv6.conf.d0/5.disable_ipv6"), "IPv6 that was off before ksc stays off")

	code, _, stderr = ksc("apply", policy, "-t", "sysctl", "--undo", "--netns", ns.Name)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "no record of the IPv6 settings before ksc")
}
