package openvpn

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// Conflict is a directive the file already has with other arguments.
type Conflict struct {
	Line   int    // 1-based line in the file
	Have   string // the file's directive
	Wanted Directive
}

func (c Conflict) String() string {
	return fmt.Sprintf("line %d has %q, ksc wants %q", c.Line, c.Have, c.Wanted.String())
}

// PatchResult says what Patch did.
type PatchResult struct {
	Output    []byte      // the patched file; equal to the input when nothing changed
	Added     []Directive // directives inserted
	Present   []Directive // directives already there with the same arguments
	Conflicts []Conflict  // directives there with other arguments: nothing is changed then
}

// Changed reports whether the output differs from the input.
func (r PatchResult) Changed() bool { return len(r.Added) > 0 }

// Patch inserts the directives missing from an .ovpn file above its first
// "verb" line (at the end when there is none), as the reference article
// advises. Every other byte is kept: comments, inline <ca> blocks, CRLF line
// endings. It is idempotent: a directive already present is not added
// again. When a directive is present with other arguments, Patch changes
// nothing and reports the conflict, so that a half-patched file never results.
func Patch(src []byte, want []Directive) PatchResult {
	lines := splitLines(src)
	eol := "\n"
	if len(lines) > 0 && strings.HasSuffix(lines[0], "\r\n") {
		eol = "\r\n"
	}
	res := PatchResult{Output: src}
	verbLine := -1
	have := map[string][]int{} // keyword -> line indexes
	inline := ""
	for i, l := range lines {
		fields := strings.Fields(l)
		if len(fields) == 0 {
			continue
		}
		if inline != "" {
			if fields[0] == "</"+inline+">" {
				inline = ""
			}
			continue
		}
		if k := fields[0]; strings.HasPrefix(k, "<") && strings.HasSuffix(k, ">") && !strings.HasPrefix(k, "</") {
			inline = strings.Trim(k, "<>")
			continue
		}
		if strings.HasPrefix(fields[0], "#") || strings.HasPrefix(fields[0], ";") {
			continue
		}
		// OpenVPN also reads "--keyword" in config files.
		keyword := strings.TrimPrefix(fields[0], "--")
		have[keyword] = append(have[keyword], i)
		if keyword == "verb" && verbLine < 0 {
			verbLine = i
		}
	}
	var missing []Directive
	for _, d := range want {
		idx, ok := have[d.Keyword]
		if !ok {
			missing = append(missing, d)
			continue
		}
		same := false
		for _, i := range idx {
			args := strings.Fields(stripComment(lines[i]))[1:]
			if slices.Equal(args, d.Args) || d.Keyword == "redirect-gateway" && slices.Contains(args, "ipv6") {
				same = true
			} else {
				res.Conflicts = append(res.Conflicts, Conflict{Line: i + 1, Have: strings.TrimSpace(lines[i]), Wanted: d})
			}
		}
		if same {
			res.Present = append(res.Present, d)
		}
	}
	if len(res.Conflicts) > 0 || len(missing) == 0 {
		return res
	}
	var insert strings.Builder
	for _, d := range missing {
		insert.WriteString(d.String() + eol)
	}
	var out bytes.Buffer
	if verbLine < 0 {
		out.Write(src)
		if len(src) > 0 && !bytes.HasSuffix(src, []byte("\n")) {
			out.WriteString(eol)
		}
		out.WriteString(insert.String())
	} else {
		for i, l := range lines {
			if i == verbLine {
				out.WriteString(insert.String())
			}
			out.WriteString(l)
		}
	}
	res.Output = out.Bytes()
	res.Added = missing
	return res
}

// splitLines splits after each '\n', keeping the line endings.
func splitLines(src []byte) []string {
	var lines []string
	for len(src) > 0 {
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			lines = append(lines, string(src))
			break
		}
		lines = append(lines, string(src[:i+1]))
		src = src[i+1:]
	}
	return lines
}

// stripComment drops a trailing "# ..." or "; ..." comment.
func stripComment(line string) string {
	if i := strings.IndexAny(line, "#;"); i >= 0 {
		return line[:i]
	}
	return line
}
