package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ksc-project/ksc/internal/nsenter"
	"golang.org/x/sys/unix"
)

// runDir holds ksc's locks and the sockets of applies awaiting confirmation.
var runDir = "/run/ksc"

// stateDir keeps what must outlive a reboot: the settings ksc replaced.
var stateDir = "/var/lib/ksc"

// lockApply makes concurrent "ksc apply" runs on one network namespace
// take turns: a second one waits up to wait for the first, then fails
// naming it. Applies to different namespaces do not wait for each other.
// The lock is an flock on the returned file, held until every copy of it
// is closed: by the apply, and by its rollback guard (see confirm.go). It
// is released even when its holders are killed.
func lockApply(netns string, wait time.Duration) (*os.File, error) {
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	key, err := namespaceKey(netns)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(runDir, "apply-"+key+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			holder, _ := os.ReadFile(path)
			f.Close()
			return nil, fmt.Errorf("another ksc apply is running on this namespace (pid %s, lock %s); try again when it is done, or raise --wait",
				strings.TrimSpace(string(holder)), path)
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.Truncate(0)
	f.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	return f, nil
}

// namespaceKey names a network namespace by its identity, so that one
// namespace given by name or by path has one lock and one rollback guard.
// The identity is the namespace's cookie, which the kernel never gives
// twice while it runs: a device and inode, which this used to be, are
// given again to a namespace made after one is deleted, which then found
// the old one's last word. Kernels before 5.14 have no cookie.
func namespaceKey(netns string) (string, error) {
	path := nsenter.Path(netns)
	var cookie uint64
	err := nsenter.Run(path, func() error {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		cookie, err = unix.GetsockoptUint64(fd, unix.SOL_SOCKET, soNetnsCookie)
		return err
	})
	if err == nil {
		return fmt.Sprintf("netns-%d", cookie), nil
	}
	if path == "" {
		path = "/proc/self/ns/net"
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return "", fmt.Errorf("network namespace %s: %w", path, err)
	}
	return fmt.Sprintf("netns-%d-%d", st.Dev, st.Ino), nil
}

// soNetnsCookie is SO_NETNS_COOKIE, which golang.org/x/sys does not name.
const soNetnsCookie = 71
