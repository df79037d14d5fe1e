package sysctl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
)

// Apply writes the settings to the running kernel. The keys are per network
// namespace: nsPath, when not empty, names the namespace to write them in
// (a path such as /var/run/netns/NAME).
func Apply(p *ir.Policy, undo bool, nsPath string) error {
	settings, err := Settings(p, undo)
	if err != nil {
		return err
	}
	return nsenter.Run(nsPath, func() error {
		for _, s := range settings {
			path := filepath.Join("/proc/sys", strings.ReplaceAll(s.Key, ".", "/"))
			if err := os.WriteFile(path, []byte(s.Value+"\n"), 0o644); err != nil {
				return fmt.Errorf("setting %s: %w", s.Key, err)
			}
		}
		return nil
	})
}

// Read returns the current values of the keys Apply writes.
func Read(p *ir.Policy, nsPath string) (map[string]string, error) {
	settings, err := Settings(p, false)
	if err != nil {
		return nil, err
	}
	values := map[string]string{}
	err = nsenter.Run(nsPath, func() error {
		for _, s := range settings {
			data, err := os.ReadFile(filepath.Join("/proc/sys", strings.ReplaceAll(s.Key, ".", "/")))
			if err != nil {
				return err
			}
			values[s.Key] = strings.TrimSpace(string(data))
		}
		return nil
	})
	return values, err
}

// Snapshot reads every disable_ipv6 key of the namespace at nsPath:
// all, default and each interface's, in the order Write must restore
// them (writing "all" sets every interface, so interfaces come last).
func Snapshot(nsPath string) ([]Setting, error) {
	var out []Setting
	err := nsenter.Run(nsPath, func() error {
		dirs, err := os.ReadDir("/proc/sys/net/ipv6/conf")
		if err != nil {
			return fmt.Errorf("reading the IPv6 settings: %w", err)
		}
		names := []string{"all", "default"}
		for _, d := range dirs {
			if n := d.Name(); n != "all" && n != "default" {
				names = append(names, n)
			}
		}
		for _, n := range names {
			// In a sysctl key a '/' stands for a '.' of a name (eth0.100).
			key := "net.ipv6.conf." + strings.ReplaceAll(n, ".", "/") + ".disable_ipv6"
			data, err := os.ReadFile(keyPath(key))
			if err != nil {
				return fmt.Errorf("reading %s: %w", key, err)
			}
			out = append(out, Setting{key, strings.TrimSpace(string(data))})
		}
		return nil
	})
	return out, err
}

// Write sets the keys in order in the namespace at nsPath. Interfaces
// that no longer exist are skipped: their setting left with them.
func Write(nsPath string, settings []Setting) error {
	return nsenter.Run(nsPath, func() error {
		for _, s := range settings {
			err := os.WriteFile(keyPath(s.Key), []byte(s.Value+"\n"), 0o644)
			if errors.Is(err, fs.ErrNotExist) && !strings.HasPrefix(s.Key, "net.ipv6.conf.all.") && !strings.HasPrefix(s.Key, "net.ipv6.conf.default.") {
				continue
			}
			if err != nil {
				return fmt.Errorf("setting %s: %w", s.Key, err)
			}
		}
		return nil
	})
}

// keyPath is a sysctl key's file: dots separate its parts, and a '/'
// stands for a dot inside one.
func keyPath(key string) string {
	return filepath.Join("/proc/sys", strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, key))
}
