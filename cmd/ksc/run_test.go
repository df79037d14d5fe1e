package main

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ksc-project/ksc/cgroup"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var splitPolicy = filepath.Join("..", "..", "testdata", "policies", "cgroup.ks")

// ksc run starts the program in a cgroup the policy matches, or one
// below it, as the user who ran sudo; any other cgroup is an error, as
// is one the policy matches that does not exist.
func TestRunStartsTheProgramInTheCgroup(t *testing.T) {
	labtest.Require(t)
	code, _, stderr := ksc("run", splitPolicy, "ksc-test/vpn", "--", "true")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "cgroup ksc-test/vpn does not exist, so ")
	assert.Contains(t, stderr, "make it (mkdir -p /sys/fs/cgroup/")

	src, err := os.ReadFile(splitPolicy)
	require.NoError(t, err)
	p, ds := lang.Load(splitPolicy, src, lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	labtest.Cgroups(t, p)

	code, stdout, stderr := ksc("run", splitPolicy, "ksc-test/vpn", "--", "grep", "^0::", "/proc/self/cgroup")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "0::/ksc-test/vpn\n", stdout)
	code, stdout, stderr = ksc("run", splitPolicy, "ksc-test/bypass/game.scope", "--", "grep", "^0::", "/proc/self/cgroup")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "0::/ksc-test/bypass/game.scope\n", stdout, "a cgroup below one the policy matches")
	dir, err := cgroup.Dir("ksc-test/bypass/game.scope")
	require.NoError(t, err)
	assert.NoDirExists(t, dir, "made for the program, removed after")

	t.Setenv("SUDO_UID", "65534")
	t.Setenv("SUDO_GID", "65534")
	code, stdout, stderr = ksc("run", splitPolicy, "ksc-test/vpn", "--", "id", "-u")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "65534\n", stdout, "as the user who ran sudo")

	code, stdout, stderr = ksc("run", filepath.Join("..", "..", "examples", "split-exclusive.ks"), "BYPASS", "-D", `BYPASS="ksc-test/vpn"`, "--", "grep", "^0::", "/proc/self/cgroup")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "0::/ksc-test/vpn\n", stdout, "a define's cgroup, as -D gives it")
	labtest.CgroupPaths(t, "ksc.slice/ksc-bypass.slice")
	code, stdout, stderr = ksc("run", filepath.Join("..", "..", "examples", "split-exclusive.ks"), "BYPASS", "--", "grep", "^0::", "/proc/self/cgroup")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "0::/ksc.slice/ksc-bypass.slice\n", stdout, "a define's cgroup, as the policy gives it")

	code, _, _ = ksc("run", splitPolicy, "ksc-test/vpn", "--", "sh", "-c", "exit 7")
	assert.Equal(t, 7, code, "the program's status")

	code, _, stderr = ksc("run", splitPolicy, "ksc-test/vpm", "--", "true")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "matches no cgroup ksc-test/vpm, nor one above it: the program would be treated as any other (it matches ksc-test/vpn, ksc-test/bypass, ksc-test-other)")
	code, _, _ = ksc("run", splitPolicy, "ksc-test/vpn", "true")
	assert.Equal(t, exitUsage, code, "-- before the program")
}

// A policy that names a cgroup the machine lacks is refused before
// anything is applied, on either backend, at each match that names it.
func TestApplyRefusesMissingCgroupsUnlessToldToMakeThem(t *testing.T) {
	labtest.Require(t, "iptables-nft-restore")
	useRunDir(t)
	space := labtest.NewNS(t, "cgmiss")
	for _, backend := range []string{"nft", "iptables"} {
		code, _, stderr := ksc("apply", splitPolicy, "--netns", space.Name, "--backend", backend)
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "cgroup.ks:16:3: cgroup ksc-test/vpn does not exist: socket cgroupv2 matches the cgroup there is when the policy is loaded")
		assert.Contains(t, stderr, "cgroup.ks:18:3: cgroup ksc-test-other does not exist")
		assert.Contains(t, stderr, "hint: make it first (mkdir -p /sys/fs/cgroup/")
		assert.Contains(t, stderr, "ksc apply: nothing was changed")
	}
	assert.Equal(t, "", space.Exec(t, "nft", "list", "ruleset"))

	// --make-cgroups makes them (at boot: ksc install's unit), in a turn
	// of the tests that make cgroups, which then removes them.
	held, err := cgroup.Hold()
	require.NoError(t, err)
	var made []string
	defer func() { assert.NoError(t, errors.Join(cgroup.Remove(made), held.Release())) }()
	for _, path := range []string{"ksc-test-other", "ksc-test", "ksc-test/vpn", "ksc-test/bypass"} {
		if _, err := cgroup.ID(path); errors.Is(err, cgroup.ErrMissing) {
			dir, _ := cgroup.Dir(path)
			made = append(made, dir)
		}
	}
	code, _, stderr := ksc("apply", splitPolicy, "--netns", space.Name, "--make-cgroups")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, space.Exec(t, "nft", "list", "ruleset"), `socket cgroupv2 level 2 "`)
}

// A cgroup is a systemd slice when every name is one, nested as systemd
// nests them; systemd-run then starts the program in a scope of it.
func TestSystemdSlice(t *testing.T) {
	for path, want := range map[string]string{
		"ksc.slice":                       "ksc.slice",
		"ksc.slice/ksc-vpn.slice":         "ksc-vpn.slice",
		"ksc.slice/other.slice":           "",
		"ksc/vpn":                         "",
		"ksc.slice/ksc-vpn.slice/x.scope": "",
		"-.slice":                         "",
	} {
		got, ok := systemdSlice(path)
		assert.Equal(t, want != "", ok, path)
		assert.Equal(t, want, got, path)
	}
	assert.Equal(t, []string{"--scope", "--quiet", "--collect", "--slice=ksc-vpn.slice", "--uid=1000", "--gid=100", "--", "firefox", "--private-window"},
		systemdRunArgs("ksc-vpn.slice", &syscall.Credential{Uid: 1000, Gid: 100}, []string{"firefox", "--private-window"}))
}

// exclusiveSplit is a namespace with eth0 (labtest.NewLinkedNS, its
// router at 192.0.2.1), ready for examples/split-exclusive.ks, whose path it
// returns: its cgroups made for the test.
func exclusiveSplit(t *testing.T, role string) (*labtest.NS, string) {
	t.Helper()
	space := labtest.NewLinkedNS(t, role)
	policy := filepath.Join("..", "..", "examples", "split-exclusive.ks")
	src, err := os.ReadFile(policy)
	require.NoError(t, err)
	p, ds := lang.Load(policy, src, lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	labtest.Cgroups(t, p)
	return space, policy
}

// The routing a policy declares is applied with its rules, shown by diff
// and status, rolled back by --confirm and removed with the policy.
func TestApplyRouting(t *testing.T) {
	labtest.Require(t, "nft")
	useRunDir(t)
	space, policy := exclusiveSplit(t, "cliroute")
	rules := func() string { return space.Routing(t, "7362") }
	before := rules()

	code, _, stderr := ksc("apply", policy, "--netns", space.Name, "--confirm", "500ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "not confirmed within 500ms: restored the previous ruleset")
	assert.Equal(t, before, rules(), "the routing rolled back with the rules")

	code, _, stderr = ksc("apply", policy, "--netns", space.Name)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, rules(), "100:\tfrom all fwmark 0x6b7362 lookup 7362 proto 107")
	assert.Contains(t, rules(), "default via 192.0.2.1 dev eth0 proto 107")
	code, stdout, _ := ksc("diff", policy, "--netns", space.Name, "-D", "GATEWAY=192.0.2.3")
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "+ routing route default via 192.0.2.3 dev \"eth0\" table 7362\n- routing route default via 192.0.2.1 dev \"eth0\" table 7362\n")
	code, stdout, stderr = ksc("status", policy, "--netns", space.Name)
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, stdout, "routing")

	code, _, stderr = ksc("remove", policy, "--netns", space.Name)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, before, rules())
	assert.Equal(t, "", space.Exec(t, "nft", "list", "ruleset"))
}
