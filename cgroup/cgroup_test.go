package cgroup

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMountPoint(t *testing.T) {
	for _, tc := range []struct{ name, mountinfo, want string }{
		{"cgroup2 only", "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n", "/sys/fs/cgroup"},
		{"hybrid", "25 24 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n" +
			"26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid shared:5 - cgroup2 cgroup2 rw\n" +
			"27 25 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n", "/sys/fs/cgroup/unified"},
	} {
		got, err := mountPoint(strings.NewReader(tc.mountinfo))
		assert.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
	}
	_, err := mountPoint(strings.NewReader("27 25 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"))
	assert.ErrorIs(t, err, ErrNoCgroup2, "cgroup v1 only")
}
