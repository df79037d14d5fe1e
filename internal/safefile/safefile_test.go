package safefile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What ksc writes must not damage what it touches: links stay links,
// special files are refused, mode and owner stay.
func TestWriteFileKeepsWhatItTouches(t *testing.T) {
	dir := t.TempDir()
	read := func(p string) string { b, err := os.ReadFile(p); require.NoError(t, err); return string(b) }

	t.Run("a symlink stays a link to the updated file", func(t *testing.T) {
		real := filepath.Join(dir, "real.ovpn")
		require.NoError(t, os.WriteFile(real, []byte("old"), 0o600))
		link := filepath.Join(dir, "client.ovpn")
		require.NoError(t, os.Symlink(real, link))
		require.NoError(t, Write(link, []byte("new"), Options{FollowLinks: true}))
		fi, err := os.Lstat(link)
		require.NoError(t, err)
		assert.True(t, fi.Mode()&os.ModeSymlink != 0, "the link is still a link")
		assert.Equal(t, "new", read(real))
		fi, err = os.Stat(real)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	})
	t.Run("a FIFO is written to, not replaced", func(t *testing.T) {
		fifo := filepath.Join(dir, "fifo")
		require.NoError(t, syscall.Mkfifo(fifo, 0o644))
		got := make(chan string, 1)
		go func() {
			b, _ := os.ReadFile(fifo) // opening blocks until the writer opens
			got <- string(b)
		}()
		require.NoError(t, Write(fifo, []byte("ruleset"), Options{FollowLinks: true}))
		assert.Equal(t, "ruleset", <-got)
		fi, err := os.Lstat(fifo)
		require.NoError(t, err)
		assert.True(t, fi.Mode()&os.ModeNamedPipe != 0, "still a FIFO")
	})
	t.Run("a directory is refused", func(t *testing.T) {
		err := Write(t.TempDir(), []byte("x"), Options{FollowLinks: true})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not a regular file")
	})
	t.Run("a dangling symlink is refused", func(t *testing.T) {
		link := filepath.Join(dir, "dangling")
		require.NoError(t, os.Symlink(filepath.Join(dir, "missing"), link))
		assert.Error(t, Write(link, []byte("x"), Options{FollowLinks: true}))
	})
	t.Run("mode and owner stay", func(t *testing.T) {
		p := filepath.Join(dir, "policy.ks")
		require.NoError(t, os.WriteFile(p, []byte("old"), 0o640))
		if os.Geteuid() == 0 {
			require.NoError(t, os.Chown(p, 1234, 5678))
		}
		require.NoError(t, Write(p, []byte("new"), Options{FollowLinks: true}))
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
		if os.Geteuid() == 0 {
			st := fi.Sys().(*syscall.Stat_t)
			assert.Equal(t, []uint32{1234, 5678}, []uint32{st.Uid, st.Gid})
		}
	})
	t.Run("a backup takes the original's mode, and replaces an old .bak link", func(t *testing.T) {
		orig := filepath.Join(dir, "key.ovpn")
		require.NoError(t, os.WriteFile(orig, []byte("secret"), 0o600))
		elsewhere := filepath.Join(dir, "elsewhere")
		require.NoError(t, os.WriteFile(elsewhere, []byte("keep"), 0o644))
		bak := orig + ".bak"
		require.NoError(t, os.Symlink(elsewhere, bak))
		info, err := os.Stat(orig)
		require.NoError(t, err)
		require.NoError(t, Write(bak, []byte("secret"), Options{Like: info}))
		fi, err := os.Lstat(bak)
		require.NoError(t, err)
		assert.True(t, fi.Mode().IsRegular(), "the .bak link was replaced, not followed")
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		assert.Equal(t, "keep", read(elsewhere))
	})
}
