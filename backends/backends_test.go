package backends_test

import (
	"errors"
	"testing"

	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every backend has its name, and a name that is none is refused.
func TestOpenEveryBackend(t *testing.T) {
	for _, name := range backends.Names {
		fw, err := backends.Open(name, "", backends.Options{})
		require.NoError(t, err, name)
		assert.Equal(t, name, fw.Name())
	}
	_, err := backends.Open("pf", "", backends.Options{})
	assert.ErrorContains(t, err, "--backend is nft or iptables")
	_, err = backends.Open("iptables", "", backends.Options{Mode: "ebtables"})
	assert.ErrorContains(t, err, "--iptables-mode is auto, nft or legacy")
}

// A refusal names its policy line whichever backend refused.
func TestRefusalsNameTheLine(t *testing.T) {
	pos := ir.Pos{File: "p.ks", Line: 3, Col: 2}
	for _, err := range []error{
		&kernel.ApplyError{Pos: pos, What: "rule \"x\"", Err: errors.New("invalid argument")},
		&iptables.ApplyError{Pos: pos, Line: "-A INPUT -j X", Err: errors.New("line 3 failed")},
	} {
		var r backends.Refusal
		require.ErrorAs(t, err, &r)
		got, msg := r.Refused()
		assert.Equal(t, pos, got)
		assert.NotEmpty(t, msg)
	}
}

// The Fake keeps what was applied, as a backend does, and fails every
// change with Err, changing nothing.
func TestFakeKeepsWhatWasApplied(t *testing.T) {
	p, ds := lang.Load("p.ks", []byte("table t {\nchain c hook output policy drop {\n}\n}\n"), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	fake := &backends.Fake{}
	d, err := fake.Diff(p)
	require.NoError(t, err)
	assert.True(t, backends.Changed(d))
	require.NoError(t, fake.Apply(p))
	st, err := fake.Status(p)
	require.NoError(t, err)
	assert.Empty(t, st.Differences)
	snap, err := fake.Snapshot(p)
	require.NoError(t, err)
	fake.Err = errors.New("refused")
	assert.Error(t, fake.Remove(p))
	assert.Same(t, p, fake.InForce)
	fake.Err = nil
	require.NoError(t, fake.Remove(p))
	assert.Nil(t, fake.InForce)
	_, err = snap.Rollback()
	require.NoError(t, err)
	assert.Same(t, p, fake.InForce, "the rollback puts back what the snapshot kept")
	assert.Equal(t, []string{"Diff p.ks", "Apply p.ks", "Status p.ks", "Snapshot p.ks", "Remove p.ks", "Remove p.ks", "Rollback p.ks"}, fake.Calls)
}
