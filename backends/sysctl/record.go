package sysctl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ksc-project/ksc/internal/safefile"
	"github.com/ksc-project/ksc/ir"
)

// StateDir keeps what must outlive a reboot: the settings ksc replaced.
// Tests point it elsewhere.
var StateDir = "/var/lib/ksc"

// RecordPath is where the IPv6 settings found before the first apply are
// kept, for each namespace by name (empty: this machine's); it survives a
// reboot, as an installed file does.
func RecordPath(netns string) string {
	key := "host"
	if netns != "" {
		key = "netns-" + strings.NewReplacer("/", "_", ".", "_").Replace(netns)
	}
	return filepath.Join(StateDir, "sysctl-"+key+".before")
}

// Disable disables IPv6 in the namespace at nsPath, as p says, first
// recording the values it finds (all, default and every interface's)
// unless a record from an earlier apply is there.
func Disable(p *ir.Policy, netns, nsPath string) error {
	record := RecordPath(netns)
	if _, err := os.Stat(record); errors.Is(err, fs.ErrNotExist) {
		before, err := Snapshot(nsPath)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(record), 0o755); err != nil {
			return err
		}
		if err := safefile.Write(record, Format(before), safefile.Options{}); err != nil {
			return fmt.Errorf("recording the IPv6 settings before applying: %w", err)
		}
	}
	return Apply(p, false, nsPath)
}

// Undo writes back the values recorded before the first Disable, so that
// IPv6 that was off before ksc stays off; with no record it enables IPv6
// everywhere, and says so (recorded false).
func Undo(p *ir.Policy, netns, nsPath string) (recorded bool, err error) {
	record := RecordPath(netns)
	data, err := os.ReadFile(record)
	if errors.Is(err, fs.ErrNotExist) {
		return false, Apply(p, true, nsPath)
	}
	if err != nil {
		return false, err
	}
	before, err := Parse(data)
	if err != nil {
		return true, fmt.Errorf("%s: %w", record, err)
	}
	if err := Write(nsPath, before); err != nil {
		return true, err
	}
	return true, os.Remove(record)
}

// Install makes the settings survive a reboot (InstallPath), or with undo
// removes them.
func Install(p *ir.Policy, undo bool) error {
	if undo {
		if err := os.Remove(InstallPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	data, err := Render(p, false)
	if err != nil {
		return err
	}
	return safefile.Write(InstallPath, data, safefile.Options{FollowLinks: true})
}
