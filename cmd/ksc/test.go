package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/sim"
)

const testUsage = `Usage: ksc test POLICY [TESTS]

Check a policy's promises: each line of TESTS (by default POLICY with
.kst for .ks) says what verdict a packet must get, and ksc test answers
each by simulation, as ksc explain does: no root, nothing loaded. A
failure names the line of the test and the policy line that decided.
Exit status 0 when every expectation holds, 1 when one does not, 2 on
trouble (a test or the policy does not load).

TESTS:
` + sim.KSTSyntax + `

Examples:
  ksc test examples/ivpn-killswitch.ks
  ksc test policy.ks promises.kst
`

func runTest(e env, args []string) int {
	fs := newFlags(e, "test")
	if code := parseFlags(e, fs, testUsage, args); code >= 0 {
		return code
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fmt.Fprintln(e.stderr, "ksc test: want a policy and, optionally, its tests; see ksc test --help")
		return exitUsage
	}
	policy := fs.Arg(0)
	file := strings.TrimSuffix(policy, ".ks") + ".kst"
	if fs.NArg() == 2 {
		file = fs.Arg(1)
	}
	data, err := lang.ReadSource(file)
	if err != nil {
		fmt.Fprintf(e.stderr, "ksc test: %v\n", err)
		return exitUsage
	}
	blocks, err := sim.ParseTests(data)
	var te *sim.TestError
	if errors.As(err, &te) {
		d := ir.Diagnostic{Pos: ir.Pos{File: file, Line: te.Line, Col: te.Col}, Message: te.Msg, Hint: te.Hint}
		fmt.Fprint(e.stderr, d.Render(data))
		return exitUsage
	}
	passed, failed := 0, 0
	for _, b := range blocks {
		pf := policyFlags{enable: b.Enable, defines: b.Defines, quiet: true}
		p := pf.load(e, policy)
		if p == nil {
			fmt.Fprintf(e.stderr, "%s:%d: the policy does not load with these settings\n", file, b.Line)
			return exitUsage
		}
		for _, x := range b.Expect {
			res := sim.Evaluate(p, x.Packet)
			if res.Verdict == x.Verdict {
				passed++
				continue
			}
			failed++
			where := "the chains' policies"
			if d := res.Decided(); d != nil && d.Rule != nil {
				where = d.Rule.Pos.String()
			}
			fmt.Fprintf(e.stdout, "%s:%d: %s: expected %s, got %s (decided by %s)\n", file, x.Line, x.Text, x.Verdict, res.Verdict, where)
		}
	}
	fmt.Fprintf(e.stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return exitFailure
	}
	return exitOK
}
