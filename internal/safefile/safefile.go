// Package safefile writes files so that nothing ksc writes damages what
// it touches: a reader never sees half a file, a link stays a link, a
// device or pipe is written to and never replaced, and a file keeps its
// mode and owner.
package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Options say how Write treats the file it replaces.
type Options struct {
	// FollowLinks writes the file a symlink points to, so that the link
	// stays a link (a config kept elsewhere and linked into place).
	// Without it, a symlink at path is replaced by the new file.
	FollowLinks bool
	// Like, when set, gives the new file this file's mode and owner;
	// otherwise it keeps those of the file it replaces (0644 when new).
	Like fs.FileInfo
}

// Write replaces the regular file at path with data through a
// temporary file and a rename, so that a reader (or a boot-time nft -f)
// never sees half a ruleset, keeping the mode and owner it had. A
// character device or a pipe is written to in place; anything else that
// is not a regular file (a block device, a directory) is refused.
func Write(path string, data []byte, opts Options) error {
	target := path
	if opts.FollowLinks {
		resolved, err := filepath.EvalSymlinks(path)
		switch {
		case err == nil:
			target = resolved
		case errors.Is(err, fs.ErrNotExist):
			if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
				return fmt.Errorf("%s is a symlink to a file that does not exist; write to its target instead", path)
			}
		default:
			return err
		}
	}
	mode, uid, gid := fs.FileMode(0o644), -1, -1
	existing, err := os.Lstat(target)
	switch {
	case err == nil && existing.Mode()&fs.ModeSymlink != 0 && !opts.FollowLinks:
		// The link itself is replaced; its mode means nothing.
	case err == nil && existing.Mode()&(fs.ModeCharDevice|fs.ModeNamedPipe) != 0:
		// A character device or a pipe is written to, never replaced:
		// -o /dev/null as root once turned the device into a file.
		return writeInPlace(target, data)
	case err == nil && !existing.Mode().IsRegular():
		return fmt.Errorf("refusing to replace %s: it is not a regular file (%s); redirect standard output instead", path, existing.Mode().Type())
	case err == nil:
		mode, uid, gid = existing.Mode().Perm(), owner(existing, -1), group(existing, -1)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if opts.Like != nil {
		mode, uid, gid = opts.Like.Mode().Perm(), owner(opts.Like, uid), group(opts.Like, gid)
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	// Mode before owner: a file that will hold a key is never readable
	// by others, not even for a moment.
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if uid >= 0 || gid >= 0 {
		if err := tmp.Chown(uid, gid); err != nil && !(errors.Is(err, fs.ErrPermission) && uid == os.Getuid()) {
			tmp.Close()
			return fmt.Errorf("keeping the owner of %s: %w", path, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}

func owner(fi fs.FileInfo, def int) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return def
}

func group(fi fs.FileInfo, def int) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Gid)
	}
	return def
}

func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
