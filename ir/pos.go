package ir

import "fmt"

// Pos is a place in a policy source: a file name and a 1-based line and column.
// Offset is the byte offset into the file, used to print the source line.
type Pos struct {
	File   string
	Offset int
	Line   int
	Col    int
}

// String formats the position as file:line:col, the form editors jump to.
func (p Pos) String() string {
	if p.Line == 0 {
		if p.File == "" {
			return "-"
		}
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// IsValid reports whether the position points into a source.
func (p Pos) IsValid() bool { return p.Line > 0 }
