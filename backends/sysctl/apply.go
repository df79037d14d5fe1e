package sysctl

import (
	"fmt"
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
