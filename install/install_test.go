package install

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Arguments reach ksc unchanged: systemd unquotes double quotes and C
// escapes, and expands % specifiers and $ variables unless doubled.
func TestQuote(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{
		{"apply", "apply"},
		{"INET_DEV=wlan0", "INET_DEV=wlan0"},
		{"VPN_SERVERS={ 198.51.100.1, 198.51.100.2 }", `"VPN_SERVERS={ 198.51.100.1, 198.51.100.2 }"`},
		{`INET_DEV="eth0"`, `"INET_DEV=\"eth0\""`},
		{`a\b`, `"a\\b"`},
		{"100%", `"100%%"`},
		{"$HOME", `"$$HOME"`},
		{"x;y", `"x;y"`},
		{"", `""`},
	} {
		assert.Equal(t, tc.want, quote(tc.arg), tc.arg)
	}
}

func TestPlanRefusesWhatBootCannotFind(t *testing.T) {
	_, err := Plan(Options{Ksc: "ksc"})
	require.ErrorContains(t, err, "absolute path")
	_, err = Plan(Options{Ksc: "/opt/my ksc/ksc"})
	require.ErrorContains(t, err, "without spaces")
	_, err = Plan(Options{Ksc: "/usr/bin/ksc", SetFiles: []SetFile{{Written: "../x.txt"}}})
	require.ErrorContains(t, err, `file("../x.txt") is outside the policy's directory`)
	files, err := Plan(Options{Ksc: "/usr/bin/ksc", SetFiles: []SetFile{{Written: "/etc/vpn/servers.txt"}, {Written: "sets/bad.txt"}}})
	require.NoError(t, err)
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	assert.Equal(t, []string{Policy, "/etc/ksc/sets/bad.txt", Unit, Enabled}, paths, "an absolute set file is read where it is")
}

// At boot nothing has made the cgroups a policy matches: the unit's
// apply makes them; watch, which puts back what is in force, does not.
func TestUnitMakesTheCgroupsAtBoot(t *testing.T) {
	o := Options{Ksc: "/usr/bin/ksc", MakeCgroups: true, Watch: true}
	assert.Contains(t, UnitText(o), "ExecStart=/usr/bin/ksc apply /etc/ksc/policy.ks --make-cgroups\n")
	assert.Contains(t, WatchUnitText(o), "ExecStart=/usr/bin/ksc watch /etc/ksc/policy.ks\n")
	assert.NotContains(t, UnitText(Options{Ksc: "/usr/bin/ksc"}), "--make-cgroups")
}
