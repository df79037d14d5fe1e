// Package cgroup finds this machine's cgroup2 hierarchy, and makes
// cgroups in it and starts processes inside them: a cgroup's id for the
// netlink loader, where nft looks paths up for the nft text, ksc run
// and the lab's senders. Paths are below the cgroup2 root, as policies
// write them (ir.CheckCgroupPath).
package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ksc-project/ksc/ir"
	"golang.org/x/sys/unix"
)

// ErrMissing is the error of a cgroup that does not exist.
var ErrMissing = errors.New("no such cgroup")

// ErrNoCgroup2 is the error of a machine without cgroup2.
var ErrNoCgroup2 = errors.New("cgroup2 is not mounted on this machine: socket cgroupv2 matches need it")

// nftBase is where nft looks up the paths of socket cgroupv2 matches.
const nftBase = "/sys/fs/cgroup"

// Root is where the cgroup2 hierarchy is mounted: /sys/fs/cgroup on a
// machine with cgroup2 only, /sys/fs/cgroup/unified on a hybrid one.
func Root() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	return mountPoint(f)
}

// mountPoint is the first cgroup2 mount of a mountinfo listing.
func mountPoint(mountinfo io.Reader) (string, error) {
	sc := bufio.NewScanner(mountinfo)
	for sc.Scan() {
		// "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - TYPE SOURCE ..."
		before, after, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(before)
		if ok && len(fields) >= 5 && strings.HasPrefix(after, "cgroup2 ") {
			return fields[4], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", ErrNoCgroup2
}

// NftRoot is the cgroup2 root below /sys/fs/cgroup, where nft looks
// the paths of a policy's text up: empty on a machine with cgroup2
// only, "unified" on a hybrid one.
func NftRoot() (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(nftBase, root)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("cgroup2 is mounted at %s, outside %s, where nft looks cgroups up: load the policy with the netlink backend", root, nftBase)
	}
	if rel == "." {
		rel = ""
	}
	return rel, nil
}

// Dir is the directory of the cgroup at path.
func Dir(path string) (string, error) {
	if err := ir.CheckCgroupPath(path); err != nil {
		return "", err
	}
	root, err := Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, path), nil
}

// ID is the id of the cgroup at path, which socket cgroupv2 compares:
// its directory's inode number.
func ID(path string) (uint64, error) {
	dir, err := Dir(path)
	if err != nil {
		return 0, err
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return 0, fmt.Errorf("cgroup %s: %w", path, ErrMissing)
		}
		return 0, fmt.Errorf("cgroup %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return 0, fmt.Errorf("cgroup %s: %s is not a directory", path, dir)
	}
	return st.Ino, nil
}

// Make makes the cgroup at path and the ones above it that are missing;
// it returns the directories it made, outermost first, for Remove.
func Make(path string) ([]string, error) {
	if err := ir.CheckCgroupPath(path); err != nil {
		return nil, err
	}
	root, err := Root()
	if err != nil {
		return nil, err
	}
	var made []string
	for _, name := range strings.Split(path, "/") {
		root = filepath.Join(root, name)
		err := os.Mkdir(root, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return made, errors.Join(fmt.Errorf("making cgroup %s: %w", path, err), Remove(made))
		}
		made = append(made, root)
	}
	return made, nil
}

// Remove removes the directories Make made, innermost first. A cgroup
// with a process in it cannot be removed: that is an error.
func Remove(made []string) error {
	var errs []error
	for i := len(made) - 1; i >= 0; i-- {
		if err := unix.Rmdir(made[i]); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("removing cgroup %s: %w", made[i], err))
		}
	}
	return errors.Join(errs...)
}

// Into has cmd start inside the cgroup at path, or at the root for ""
// (clone3's CLONE_INTO_CGROUP): from its first instruction on, every
// socket it makes is the cgroup's. The returned function closes what it
// opened, once cmd has started.
func Into(cmd *exec.Cmd, path string) (func(), error) {
	dir, err := Root()
	if path != "" {
		dir, err = Dir(path)
	}
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("cgroup %s: %w", path, ErrMissing)
		}
		return nil, fmt.Errorf("cgroup %s: %w", path, err)
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = fd
	return func() { unix.Close(fd) }, nil
}

// NftRootFor is NftRoot for a policy that matches cgroups, "" for one
// that does not, which nft's text then needs no root for. A machine
// without cgroup2 compiles for one where it is all there is, as on
// every current distribution.
func NftRootFor(p *ir.Policy) (string, error) {
	if len(p.Cgroups()) == 0 {
		return "", nil
	}
	root, err := NftRoot()
	if errors.Is(err, ErrNoCgroup2) {
		return "", nil
	}
	return root, err
}

// lockPath is where ksc processes that make cgroups for a while (the
// lab, tests) take turns.
const lockPath = "/run/lock/ksc-cgroups.lock"

// Held is a turn at making cgroups for a while (the lab's, tests'): one
// ksc process removing the cgroups it made must not remove them under
// another that found them there, so holders take turns, across
// processes.
type Held struct {
	lock *os.File
	made []string
}

// Hold waits for the turn.
func Hold() (*Held, error) {
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("waiting for %s: %w", lockPath, err)
	}
	return &Held{lock: lock}, nil
}

// Make makes the cgroups at paths that are missing.
func (h *Held) Make(paths ...string) error {
	for _, path := range paths {
		dirs, err := Make(path)
		h.made = append(h.made, dirs...)
		if err != nil {
			return err
		}
	}
	return nil
}

// Release removes the cgroups Make made and ends the turn.
func (h *Held) Release() error {
	err := Remove(h.made)
	h.made = nil
	return errors.Join(err, h.lock.Close()) // closing it unlocks it
}

// Missing reports each match of p that names a cgroup this machine does
// not have, at the match: nft and iptables look its id up when the
// policy is loaded, and would refuse it then.
func Missing(p *ir.Policy) ir.Diagnostics {
	var ds ir.Diagnostics
	for m := range p.CgroupMatches() {
		for _, path := range ir.ValueStrings(ir.KindCgroup, m.Values) {
			_, err := ID(path)
			if err == nil {
				continue
			}
			d := ds.Errorf(m.Pos, "%v", err)
			d.End = m.End
			if errors.Is(err, ErrMissing) {
				dir, _ := Dir(path)
				d.Message = fmt.Sprintf("cgroup %s does not exist: socket cgroupv2 matches the cgroup there is when the policy is loaded", path)
				d.Hint = fmt.Sprintf("make it first (mkdir -p %s, or apply with --make-cgroups) and keep it: one removed and made again is another cgroup, which the policy no longer matches", dir)
			}
		}
	}
	return ds
}
