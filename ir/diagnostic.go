package ir

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Severity says whether a Diagnostic stops compilation.
type Severity int

const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one problem found in a policy: an error or a warning, with the
// source range it concerns and an optional hint on how to fix it.
type Diagnostic struct {
	Severity Severity
	Pos      Pos
	// End is the position just after the offending text; when it is on the
	// same line as Pos, the caret line underlines the whole range.
	End     Pos
	Message string
	Hint    string
}

// Error formats the diagnostic on one line: file:line:col: message.
func (d Diagnostic) Error() string {
	prefix := ""
	if d.Severity == Warning {
		prefix = "warning: "
	}
	return fmt.Sprintf("%s: %s%s", d.Pos, prefix, d.Message)
}

// Render formats the diagnostic with the offending source line, a caret under
// the offending text and the hint, as the command line prints it. src is the
// content of d.Pos.File, or nil when it is not available. A long message or
// line is cut to an excerpt around the offending text, so that an error on a
// 10 MB line does not print 10 MB.
func (d Diagnostic) Render(src []byte) string {
	var b strings.Builder
	b.WriteString(excerpt(d.Error(), maxMessage))
	b.WriteByte('\n')
	if line, ok := sourceLine(src, d.Pos); ok {
		width := 1
		if d.End.Line == d.Pos.Line && d.End.Col > d.Pos.Col {
			width = d.End.Col - d.Pos.Col
		}
		line, col := window(line, d.Pos.Col)
		width = max(1, min(width, len(line)-col+1))
		gutter := fmt.Sprintf("%5d | ", d.Pos.Line)
		b.WriteString(gutter)
		b.WriteString(line)
		b.WriteByte('\n')
		b.WriteString(strings.Repeat(" ", len(gutter)-2))
		b.WriteString("| ")
		b.WriteString(caretIndent(line, col))
		b.WriteString(strings.Repeat("^", width))
		b.WriteByte('\n')
	}
	if d.Hint != "" {
		b.WriteString("  hint: ")
		b.WriteString(excerpt(d.Hint, maxMessage))
		b.WriteByte('\n')
	}
	return b.String()
}

// How much of a message and of a source line Render shows, in bytes.
const (
	maxMessage = 400
	maxLine    = 160
	// lineLead is how much of a long line shows before the offending text.
	lineLead = 40
)

// excerpt cuts s to about n bytes, saying how much it left out.
func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := runeStart(s, n)
	return fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
}

// window cuts a long line to maxLine bytes around col (1-based, in bytes),
// marking each cut with "…", and returns where col falls in the result.
func window(line string, col int) (string, int) {
	if len(line) <= maxLine {
		return line, col
	}
	start := 0
	if col-1 > lineLead {
		start = runeStart(line, col-1-lineLead)
	}
	end := runeStart(line, min(len(line), start+maxLine))
	out := line[start:end]
	if end < len(line) {
		out += "…"
	}
	if start > 0 {
		return "…" + out, col - start + len("…")
	}
	return out, col
}

// runeStart moves i back to the start of the UTF-8 sequence it falls in.
func runeStart(s string, i int) int {
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

func sourceLine(src []byte, p Pos) (string, bool) {
	if src == nil || !p.IsValid() {
		return "", false
	}
	// Walk to the line rather than split the whole source: sources run to
	// megabytes, and an error may come with thousands of others.
	rest := src
	for n := 1; n < p.Line; n++ {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return "", false
		}
		rest = rest[i+1:]
	}
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	line := strings.TrimRight(string(rest), "\r")
	// Control characters would let a hostile policy rewrite the terminal.
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return '?'
		}
		return r
	}, line), true
}

// caretIndent keeps tabs so that the caret lines up under tab-indented text.
func caretIndent(line string, col int) string {
	var b strings.Builder
	for i, r := range line {
		if i >= col-1 {
			break
		}
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// Diagnostics is a list of diagnostics; as an error it reports its errors.
type Diagnostics []Diagnostic

// Errorf appends an error diagnostic at pos.
func (ds *Diagnostics) Errorf(pos Pos, format string, args ...any) *Diagnostic {
	*ds = append(*ds, Diagnostic{Severity: Error, Pos: pos, Message: fmt.Sprintf(format, args...)})
	return &(*ds)[len(*ds)-1]
}

// Warnf appends a warning diagnostic at pos.
func (ds *Diagnostics) Warnf(pos Pos, format string, args ...any) *Diagnostic {
	*ds = append(*ds, Diagnostic{Severity: Warning, Pos: pos, Message: fmt.Sprintf(format, args...)})
	return &(*ds)[len(*ds)-1]
}

// Sort orders the diagnostics by file and position, so that output is
// stable however the policy was walked to find them.
func (ds Diagnostics) Sort() {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
}

// Errors counts the errors among ds.
func (ds Diagnostics) Errors() int {
	n := 0
	for _, d := range ds {
		if d.Severity == Error {
			n++
		}
	}
	return n
}

// OnlyErrors is ds without its warnings.
func (ds Diagnostics) OnlyErrors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Err returns ds as an error when it holds at least one error, else nil.
func (ds Diagnostics) Err() error {
	if ds.HasErrors() {
		return ds
	}
	return nil
}

// Error lists the errors one per line; warnings are left to Render.
func (ds Diagnostics) Error() string {
	var lines []string
	for _, d := range ds {
		if d.Severity == Error {
			lines = append(lines, d.Error())
		}
	}
	return strings.Join(lines, "\n")
}
