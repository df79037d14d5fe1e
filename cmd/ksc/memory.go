package main

import (
	"os"
	"runtime/debug"
)

// largePolicy is the size from which a policy's syntax tree is most of
// ksc's memory (about 30 MB at 10,000 rules, 300 MB at 100,000); below it
// the heap stays under the collector's first goal and nothing changes.
const largePolicy = 64 << 10

// collectHarderFor makes the garbage collector run when the heap has grown
// by half of what is live, not by all of it (GOGC=50), for a policy of
// size bytes that is large. Go's default lets the heap reach twice the
// syntax tree while parsing, which put ksc's peak above nft's for the
// same ruleset, at 10,000 rules as at 100,000. It costs some CPU in the
// parse (bench/RESULTS.md). A GOGC in the environment decides instead.
func collectHarderFor(size int) {
	if size >= largePolicy && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}
