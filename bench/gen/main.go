// Command gen writes the benchmark policies into a directory:
// rules-10k.ks (and 100k), inline-100k.ks, and set-100k/policy.ks with its
// blocklist (set-1m likewise).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ksc-project/ksc/bench"
)

func main() {
	if len(os.Args) != 2 || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprintln(os.Stderr, "usage: gen DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	files := map[string]string{
		"rules-10k.ks":           bench.RulesPolicy(10_000),
		"rules-100k.ks":          bench.RulesPolicy(100_000),
		"inline-100k.ks":         bench.InlinePolicy(100_000),
		"set-100k/policy.ks":     bench.SetPolicy,
		"set-100k/blocklist.txt": bench.Blocklist(100_000),
		"set-1m/policy.ks":       bench.SetPolicy,
		"set-1m/blocklist.txt":   bench.Blocklist(1_000_000),
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		err := os.MkdirAll(filepath.Dir(path), 0o755)
		if err == nil {
			err = os.WriteFile(path, []byte(text), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
