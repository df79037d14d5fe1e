package sim

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// KSTSyntax documents policy test files (POLICY.kst), for help texts.
const KSTSyntax = `One expectation a line: a verdict (accept, drop or reject), then a
packet line. "with" starts a block whose expectations hold with those
settings (-e NAME, -D NAME=VALUE, as on the command line); a bare "with"
goes back to none. "#" starts a comment.

  # Nothing leaves the physical interface but the tunnel's own packets.
  accept out eth0 udp 192.0.2.2:40000 185.212.170.138:1194
  drop   out eth0 udp 192.0.2.2:40000 198.51.100.53:53

  with -e lan -D LAN_CLIENTS=192.0.2.0/24
  accept out eth0 tcp 192.0.2.2:40000 192.0.2.9:22

A line "never accept REGION [except ...]" or "always accept REGION
[except ...]" is a promise about every packet of a region, proven for
all of them at once (see ksc test --help).`

// Expectation is one line of a policy test: the verdict a packet gets.
type Expectation struct {
	Line    int
	Verdict ir.Verdict
	Packet  Packet
	Text    string // the packet line as written
}

// TestBlock is expectations that hold with one set of settings.
type TestBlock struct {
	Line    int // of its "with" line; 0 for the expectations before any
	Enable  []string
	Defines []string // NAME=VALUE
	Expect  []Expectation
	// Promises speak of every packet of a region (ParsePromise).
	Promises []Promise
}

// TestError is a line of a policy test file that does not parse.
type TestError struct {
	Line, Col int
	Msg, Hint string
}

func (e *TestError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

var verdicts = map[string]ir.Verdict{"accept": ir.Accept, "drop": ir.Drop, "reject": ir.Reject}

// ParseTests reads a policy test file.
func ParseTests(data []byte) ([]TestBlock, error) {
	blocks := []TestBlock{{}}
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		line, _, _ := strings.Cut(raw, "#")
		line = strings.TrimRight(line, " \t\r")
		ws := words(line)
		if len(ws) == 0 {
			continue
		}
		if ws[0].text == "with" {
			b := TestBlock{Line: n}
			for j := 1; j < len(ws); j++ {
				flag := ws[j]
				if flag.text != "-e" && flag.text != "-D" || j+1 == len(ws) {
					return nil, &TestError{n, flag.col, fmt.Sprintf("unexpected %q", flag.text), "with takes -e NAME and -D NAME=VALUE"}
				}
				j++
				if flag.text == "-e" {
					b.Enable = append(b.Enable, strings.Split(ws[j].text, ",")...)
				} else {
					b.Defines = append(b.Defines, ws[j].text)
				}
			}
			blocks = append(blocks, b)
			continue
		}
		if ws[0].text == "never" || ws[0].text == "always" {
			if len(ws) < 2 || ws[1].text != "accept" {
				return nil, &TestError{n, ws[0].col, ws[0].text + " needs accept and a region", "write " + ws[0].text + " accept " + strings.SplitN(RegionSyntax, " ", 4)[2] + " [except EXCEPTION]..."}
			}
			text := line[ws[1].col-1+len("accept"):]
			pr, err := ParsePromise(strings.TrimSpace(text))
			if err != nil {
				pe := err.(*PacketError)
				return nil, &TestError{n, pe.Col + len(line) - len(strings.TrimSpace(text)), pe.Msg, pe.Hint}
			}
			pr.Line, pr.Always = n, ws[0].text == "always"
			last := &blocks[len(blocks)-1]
			last.Promises = append(last.Promises, pr)
			continue
		}
		v, ok := verdicts[ws[0].text]
		if !ok {
			return nil, &TestError{n, ws[0].col, fmt.Sprintf("unknown verdict %q", ws[0].text), "a line is accept, drop or reject, then a packet"}
		}
		text := strings.TrimSpace(line[ws[0].col-1+len(ws[0].text):])
		pkt, err := ParsePacket(text)
		if err != nil {
			pe := err.(*PacketError)
			return nil, &TestError{n, pe.Col + len(line) - len(text), pe.Msg, pe.Hint}
		}
		last := &blocks[len(blocks)-1]
		last.Expect = append(last.Expect, Expectation{Line: n, Verdict: v, Packet: pkt, Text: text})
	}
	if len(blocks[0].Expect) == 0 && len(blocks[0].Promises) == 0 {
		blocks = blocks[1:]
	}
	return blocks, nil
}

// Checked is an expectation and what became of it.
type Checked struct {
	Expectation
	Got ir.Verdict
	// By is what decided: a rule's position, or the chains' policies.
	By string
	// Answer and WantAnswer are, for a reject whose answer is not the
	// policy's, the answer given and the one written.
	Answer, WantAnswer string
	// Unsent says why the packet could not be made, when it was not, or
	// why the simulation cannot know its verdict (Result.Unsure).
	Unsent string
}

// Kept reports whether the expectation held.
func (c Checked) Kept() bool { return c.Unsent == "" && c.Got == c.Verdict && c.Answer == "" }

// Simulate checks the block's expectations against the simulator.
func (b TestBlock) Simulate(p *ir.Policy) []Checked {
	return b.SimulateBy(func(pkt Packet) (Result, string) {
		res := Evaluate(p, pkt)
		return res, res.Unsure()
	})
}

// SimulateBy checks the block's expectations against evaluate, which
// answers a packet's fate and why its verdict is not known, if it is not
// (a machine's ruleset, which may hold rules ksc cannot read).
func (b TestBlock) SimulateBy(evaluate func(Packet) (res Result, unsure string)) []Checked {
	out := make([]Checked, len(b.Expect))
	for i, x := range b.Expect {
		res, unsure := evaluate(x.Packet)
		out[i] = Checked{Expectation: x, Got: res.Verdict, By: decidedBy(res), Unsent: unsure}
	}
	return out
}

// Interfaces are the interfaces the block's packets name, in order.
func (b TestBlock) Interfaces() []string {
	var names []string
	for _, x := range b.Expect {
		for _, name := range []string{x.Packet.Iif, x.Packet.Oif} {
			if name != "" && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	return names
}
