package lang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeGetent stands in for getent: it knows one user and one group that
// /etc/passwd and /etc/group do not, as NSS knows a DynamicUser. It
// returns the file that each call's arguments are logged to.
func fakeGetent(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	calls, script := filepath.Join(dir, "calls"), filepath.Join(dir, "getent")
	require.NoError(t, os.WriteFile(script, []byte(`#!/bin/sh
echo "$1 $2" >> `+calls+`
case "$1 $2" in
"passwd ksc-dynamic") echo "ksc-dynamic:x:61234:61234:Dynamic User:/:/usr/sbin/nologin" ;;
"group ksc-dynamic") echo "ksc-dynamic:x:61235:" ;;
"passwd ksc-liar") echo "someone-else:x:7:7::/:/bin/sh" ;;
*) exit 2 ;;
esac
`), 0o755))
	old := getentCommand
	getentCommand = script
	t.Cleanup(func() { getentCommand = old })
	return calls
}

func TestNamesOnlyNSSKnowsAreAskedOfGetent(t *testing.T) {
	fakeGetent(t)
	uid, err := lookupUser("ksc-dynamic")
	require.NoError(t, err)
	assert.Equal(t, uint32(61234), uid)
	gid, err := lookupGroup("ksc-dynamic")
	require.NoError(t, err)
	assert.Equal(t, uint32(61235), gid)

	root, err := lookupUser("root")
	require.NoError(t, err, "/etc/passwd is read first")
	assert.Equal(t, uint32(0), root)

	for _, name := range []string{"ksc-unknown", "ksc-liar", "-ksc-dynamic"} {
		_, err := lookupUser(name)
		assert.EqualError(t, err, `no user "`+name+`" on this machine`, "a name getent does not give back is unknown")
	}
}

func TestPolicyNamesAUserOnlyNSSKnows(t *testing.T) {
	fakeGetent(t)
	src := "table inet t {\nchain c hook output {\nmeta skuid ksc-dynamic meta skgid ksc-dynamic accept\n}\n}\n"
	p, ds := Load("t.ks", []byte(src), Config{})
	require.Empty(t, ds)
	matches := p.Tables[0].Chains[0].Rules[0].Matches
	require.Len(t, matches, 2)
	assert.Equal(t, ir.NumberSet(61234), matches[0].Values, "the uid")
	assert.Equal(t, ir.NumberSet(61235), matches[1].Values, "the gid")
}

// A name is looked up once for the whole policy, however many rules use
// it: each lookup of a name only NSS knows is a getent process.
func TestNamesAreLookedUpOnce(t *testing.T) {
	calls := fakeGetent(t)
	src := "table inet t {\nchain c hook output {\nmeta skuid ksc-dynamic accept\nmeta skuid { ksc-dynamic, 0 } drop\n" +
		"meta skgid ksc-dynamic accept\nmeta skgid ksc-dynamic drop\nmeta skuid ksc-nobody accept\nmeta skuid ksc-nobody drop\n}\n}\n"
	_, ds := Load("t.ks", []byte(src), Config{})
	require.Len(t, ds, 2, "ksc-nobody is unknown, in each rule that names it")
	log, err := os.ReadFile(calls)
	require.NoError(t, err)
	assert.Equal(t, "passwd ksc-dynamic\ngroup ksc-dynamic\npasswd ksc-nobody\n", string(log))
}

// Each kind's example, which hints quote, is a policy line that compiles
// to a match of that kind and prints back as written.
func TestEveryKindsExampleCompiles(t *testing.T) {
	for _, k := range ir.AllKinds() {
		example := k.Spec().Example
		t.Run(example, func(t *testing.T) {
			hook := "postrouting"
			switch k {
			case ir.KindPresence:
				hook = "prerouting" // the route back is looked up for the input interface
			case ir.KindCgroup:
				hook = "output" // a socket's cgroup is known only to what it sends
			}
			src := "table inet t {\nchain c hook " + hook + " {\n" + example + " accept\n}\n}\n"
			p, ds := Load("t.ks", []byte(src), Config{})
			require.False(t, ds.HasErrors(), "%v", ds)
			// The protocol a selector implies (tcp dport) comes first.
			ms := p.Tables[0].Chains[0].Rules[0].Matches
			m := ms[len(ms)-1]
			assert.Equal(t, k, m.Field.Spec().Kind)
			printed := m.ValuesText()
			if k.Spec().Shape == ir.ShapeFlags {
				printed = m.Text() // "tcp flags syn" is a mask: any of its flags
			}
			assert.True(t, strings.HasSuffix(example, printed), "%s prints back as %s", example, printed)
		})
	}
}
