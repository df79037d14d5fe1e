package install

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Links inside the root are followed inside it, as the installed system
// follows them; none leads out of it.
func TestResolveStaysInTheRoot(t *testing.T) {
	root := t.TempDir()
	for _, dir := range []string{"usr/lib/systemd/system", "etc/systemd", "srv"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, dir), 0o755))
	}
	require.NoError(t, os.Symlink("/usr/lib/systemd/system", filepath.Join(root, "etc/systemd/system")))
	require.NoError(t, os.Symlink("../../srv", filepath.Join(root, "etc/up")))
	require.NoError(t, os.Symlink("/../../../../etc", filepath.Join(root, "escape")))
	require.NoError(t, os.Symlink("loop", filepath.Join(root, "loop")))
	for _, tc := range []struct{ path, want string }{
		{"/etc/ksc/policy.ks", "etc/ksc/policy.ks"},
		{"/etc/systemd/system/ksc.service", "usr/lib/systemd/system/ksc.service"},
		{"/etc/up/x", "srv/x"},
		{"/escape/passwd", "etc/passwd"},
		{"/../../etc/shadow", "etc/shadow"},
	} {
		got, err := Resolve(root, tc.path)
		require.NoError(t, err, tc.path)
		assert.Equal(t, filepath.Join(root, tc.want), got, tc.path)
	}
	_, err := Resolve(root, "/loop/x")
	assert.ErrorContains(t, err, "too many levels of symbolic links")
}
