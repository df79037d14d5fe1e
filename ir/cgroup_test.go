package ir

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckCgroupPath(t *testing.T) {
	for _, tt := range []struct {
		path string
		bad  string // part of the error, "" for a good path
	}{
		{"user.slice", ""},
		{"user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.scope", ""},
		{"ksc/vpn", ""},
		{"", "empty"},
		{"/ksc", "starts or ends with '/'"},
		{"ksc/", "starts or ends with '/'"},
		{"a//b", `empty, "." or ".."`},
		{"a/../b", `empty, "." or ".."`},
		{`a"b`, "does not take"},
		{`a\x2db`, "does not take"},
		{"a b", "does not take"},
	} {
		err := CheckCgroupPath(tt.path)
		if tt.bad == "" {
			assert.NoError(t, err, tt.path)
			continue
		}
		require.Error(t, err, tt.path)
		assert.Contains(t, err.Error(), tt.bad)
	}
}

// A packet's value at each level is its cgroup's ancestor there; above
// its own depth it has none, and what arrives has none at all.
func TestPacketCgroupAtEachLevel(t *testing.T) {
	p := Packet{Oif: "eth0", Cgroup: "ksc/vpn/app.scope"}
	for level, want := range map[int]string{1: "ksc", 2: "ksc/vpn", 3: "ksc/vpn/app.scope"} {
		k, ok := p.Value(CgroupField(level))
		require.True(t, ok, level)
		assert.Equal(t, CgroupKey(want), k, level)
	}
	_, ok := p.Value(CgroupField(4))
	assert.False(t, ok, "no cgroup below its own")
	_, ok = Packet{Oif: "eth0"}.Value(CgroupField(1))
	assert.False(t, ok, "the root cgroup has none at level 1")
	_, ok = Packet{Iif: "eth0", Cgroup: "ksc"}.Value(CgroupField(1))
	assert.False(t, ok, "what arrives comes from no local socket")

	m := &Match{Field: CgroupField(2), Op: Neq, Values: CgroupSet("ksc/bypass")}
	assert.True(t, m.Holds(p))
	assert.False(t, m.Holds(Packet{Oif: "eth0", Cgroup: "ksc/bypass/x"}))
	assert.False(t, m.Holds(Packet{Oif: "eth0", Cgroup: "ksc"}), "!= holds for no socket above the level")
	assert.Equal(t, `socket cgroupv2 level 2 != "ksc/bypass"`, m.Text())
}
