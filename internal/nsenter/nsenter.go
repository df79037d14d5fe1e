// Package nsenter runs code, and the commands it starts, inside another
// network namespace.
package nsenter

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
)

// Path turns a namespace name as "ip netns" knows it into its path under
// /var/run/netns; a value holding a '/' is already a path.
func Path(nameOrPath string) string {
	if nameOrPath == "" || strings.Contains(nameOrPath, "/") {
		return nameOrPath
	}
	return filepath.Join("/var/run/netns", nameOrPath)
}

// Open returns a handle on the namespace at path, or on the current one
// when path is empty; holding it keeps that namespace, whatever later
// happens to its name.
func Open(path string) (netns.NsHandle, error) {
	if path == "" {
		return netns.Get()
	}
	h, err := netns.GetFromPath(path)
	if err != nil {
		return h, fmt.Errorf("network namespace %s: %w", path, err)
	}
	return h, nil
}

// Run calls fn on a fresh OS thread switched into the namespace at path,
// or directly when path is empty. Sockets fn opens stay in the namespace,
// /proc/sys/net shows it, and processes fn starts are born in it. The
// thread is never switched back: it stays locked, so the Go runtime
// discards it when fn returns.
func Run(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.GetFromPath(path)
		if err != nil {
			errc <- fmt.Errorf("network namespace %s: %w", path, err)
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			errc <- fmt.Errorf("entering network namespace %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
