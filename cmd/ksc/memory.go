package main

import (
	"os"
	"runtime/debug"
)

// largePolicy is the size from which a policy's syntax tree is most of
// ksc's memory: about 300 MB at 7 MB of policy (100,000 rules).
const largePolicy = 1 << 20

// collectHarderFor makes the garbage collector run when the heap has grown
// by half of what is live, not by all of it (GOGC=50), for a policy of
// size bytes that is large. Go's default lets the heap reach twice the
// syntax tree while parsing; at 100,000 rules that put ksc's peak above
// nft's for the same ruleset. It costs some CPU in the parse
// (bench/RESULTS.md). A GOGC in the environment decides instead.
func collectHarderFor(size int) {
	if size >= largePolicy && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}
