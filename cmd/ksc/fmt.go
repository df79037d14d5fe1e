package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/ksc-project/ksc/internal/linediff"
	"github.com/ksc-project/ksc/internal/safefile"
	"github.com/ksc-project/ksc/lang"
)

const fmtUsage = `Usage: ksc fmt [flags] POLICY...

Print each POLICY (- for standard input) in ksc's one canonical layout:
tabs for blocks, one statement a line, sets as { a, b }, at most one blank
line, comments kept. Formatting twice changes nothing, and the formatted
policy compiles to the same rules, so policies diff cleanly in version
control.

Examples:
  ksc fmt policy.ks            # print the formatted policy
  ksc fmt -w policy.ks         # rewrite it in place
  ksc fmt -d policy.ks         # show what would change; exit 1 if anything would
`

func runFmt(e env, args []string) int {
	flags := newFlags(e, "fmt")
	write := flags.BoolP("write", "w", false, "rewrite each file in place")
	diff := flags.BoolP("diff", "d", false, "print a diff instead of the policy; exit status 1 when a file is not formatted")
	if code := parseFlags(e, flags, fmtUsage, args); code >= 0 {
		return code
	}
	if flags.NArg() == 0 {
		fmt.Fprintln(e.stderr, "ksc fmt: want at least one policy file (or - for standard input)")
		return exitUsage
	}
	status := exitOK
	for _, path := range flags.Args() {
		src, name, err := readPolicy(e, path)
		if err != nil {
			fmt.Fprintf(e.stderr, "ksc fmt: %v\n", err)
			status = exitFailure
			continue
		}
		out, ds := lang.Format(name, src)
		if ds.HasErrors() {
			printDiagnostics(e.stderr, ds, map[string][]byte{name: src})
			status = exitFailure
			continue
		}
		switch {
		case *diff:
			if !bytes.Equal(src, out) {
				fmt.Fprintf(e.stdout, "--- %s\n+++ %s (formatted)\n", name, name)
				for _, l := range linediff.Unified(lines(src), lines(out), 2) {
					fmt.Fprintln(e.stdout, l)
				}
				status = exitFailure
			}
		case *write && path != "-":
			if !bytes.Equal(src, out) {
				if err := safefile.Write(path, out, safefile.Options{FollowLinks: true}); err != nil {
					fmt.Fprintf(e.stderr, "ksc fmt: %v\n", err)
					status = exitFailure
				}
			}
		default:
			io.Copy(e.stdout, bytes.NewReader(out))
		}
	}
	return status
}

func lines(b []byte) []string { return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") }
