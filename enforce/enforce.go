// Package enforce puts a policy in force in a network namespace and keeps
// it there, as ksc's commands do, whatever the backend (a
// backends.Firewall): one change at a time (the apply lock, and a change
// lock that ksc watch shares), a record of what is meant to be in force
// (the intent, which watch follows), the connections the policy would not
// let start held through each change and closed (flows.Transition), and
// the rollback guard of "ksc apply --confirm", a process of its own that
// puts the previous ruleset back unless confirmed in time.
package enforce

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/flows"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"golang.org/x/sys/unix"
)

// RunDir holds ksc's locks, intents and the sockets of applies awaiting
// confirmation; tests point it elsewhere.
var RunDir = "/run/ksc"

// A Namespace is where enforce acts: a network namespace by the name or
// path the user gave (empty: the current one).
type Namespace string

// Path is the namespace's path, for the backends.
func (n Namespace) Path() string { return nsenter.Path(string(n)) }

// key names the namespace by its identity, so that one namespace given by
// name or by path has one lock, one intent and one rollback guard. The
// identity is the namespace's cookie, which the kernel never gives twice
// while it runs: a device and inode, which this used to be, are given
// again to a namespace made after one is deleted, which then found the
// old one's last word. Kernels before 5.14 have no cookie.
func (n Namespace) key() (string, error) {
	path := n.Path()
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

// file is the namespace's file of kind (with its suffix) in RunDir.
func (n Namespace) file(kind string) (string, error) {
	key, err := n.key()
	if err != nil {
		return "", err
	}
	return filepath.Join(RunDir, kind+"-"+key), nil
}

// LockApply makes concurrent "ksc apply" runs on one namespace take
// turns: a second one waits up to wait for the first, then fails naming
// it. Applies to different namespaces do not wait for each other. The
// lock is an flock on the returned file, held until every copy of it is
// closed: by the apply, and by its rollback guard. It is released even
// when its holders are killed.
func (n Namespace) LockApply(wait time.Duration) (*os.File, error) {
	if err := os.MkdirAll(RunDir, 0o755); err != nil {
		return nil, err
	}
	path, err := n.file("apply")
	if err != nil {
		return nil, err
	}
	path += ".lock"
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
				trimSpace(holder), path)
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.Truncate(0)
	f.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	return f, nil
}

func trimSpace(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return string(b)
}

// lockChanges holds, until released, the right to change the namespace's
// ruleset among ksc's processes: apply, remove and a rollback for their
// transactions, watch for its check and repair, so that watch never
// repairs between two transactions of one apply, nor against one.
func (n Namespace) lockChanges() (release func(), err error) {
	if err := os.MkdirAll(RunDir, 0o755); err != nil {
		return nil, err
	}
	path, err := n.file("change")
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// change carries out fn as ksc's change of the namespace's ruleset to
// what in says: holding the change lock, with in recorded first (so that
// a watch never puts the old back), and the old intent put back when fn
// fails.
func (n Namespace) change(in Intent, fn func() error) error {
	release, err := n.lockChanges()
	if err != nil {
		return err
	}
	defer release()
	restore, err := n.writeIntent(in)
	if err != nil {
		return err
	}
	if err := fn(); err != nil {
		restore()
		return err
	}
	return nil
}

// Apply puts p in force through fw, as "ksc apply" does: with the change
// lock held and in recorded first; unless keepConnections, the
// connections the policy would not let start are held from before it is
// in force and closed (see flows.Transition), and the report says which.
// The error is the backend's: when it is not nil, nothing changed.
func (n Namespace) Apply(fw backends.Firewall, p *ir.Policy, in Intent, keepConnections bool) (flows.Report, error) {
	var report flows.Report
	err := n.change(in, func() (err error) {
		if keepConnections {
			return fw.Apply(p)
		}
		report, err = flows.Transition(n.Path(), flows.Allows(p), func() error { return fw.Apply(p) })
		return err
	})
	return report, err
}

// Remove takes p away through fw, as "ksc remove" does, recording that
// nothing is meant to be in force: a running watch does not put it back.
func (n Namespace) Remove(fw backends.Firewall, p *ir.Policy, by string) error {
	return n.change(Intent{Removed: true, By: by}, func() error { return fw.Remove(p) })
}

// A SetChange is addresses to add to a set a policy declares, or to
// delete from it, while the policy is in force (ksc set).
type SetChange struct {
	Table *ir.Table
	Set   *ir.TableSet
	Add   bool
	Keys  ir.Set
}

// ChangeSet carries out c through fw with the change lock held: the
// set's keys in force, changed, replace them at once. Deleting a key the
// set does not hold is an error, and changes nothing. Unless
// keepConnections, the connections that p with the changed set would not
// let start are closed as Apply closes them (an endpoint taken out of an
// accept set, an address put in a blocklist). It returns the set's keys
// after.
func (n Namespace) ChangeSet(fw backends.Firewall, p *ir.Policy, c SetChange, keepConnections bool) (after ir.Set, report flows.Report, err error) {
	release, err := n.lockChanges()
	if err != nil {
		return nil, report, err
	}
	defer release()
	now, err := fw.SetKeys(p, c.Table, c.Set)
	if err != nil {
		return nil, report, err
	}
	after = now.Union(c.Keys)
	if !c.Add {
		if missing := c.Keys.Minus(now); !missing.IsEmpty() {
			return nil, report, fmt.Errorf("set %s holds no %s", c.Set.Name, ir.AddrsText(c.Set.Kind, missing))
		}
		after = now.Minus(c.Keys)
	}
	replace := func() error { return fw.ReplaceSet(p, c.Table, c.Set, after) }
	if keepConnections {
		return after, report, replace()
	}
	// The flows are judged by the sets as they will be in force: this
	// one changed, the others as earlier changes left them.
	judged := p
	for ti, t := range p.Tables {
		for si, s := range t.Sets {
			keys := after
			if s != c.Set {
				if s.Dynamic {
					continue
				}
				if keys, err = fw.SetKeys(p, t, s); err != nil {
					return nil, report, err
				}
			}
			// Each copy keeps the tables and sets where they were.
			jt := judged.Tables[ti]
			judged = judged.WithSetElements(jt, jt.Sets[si], keys)
		}
	}
	report, err = flows.Transition(n.Path(), flows.Allows(judged), replace)
	return after, report, err
}
