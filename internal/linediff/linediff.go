// Package linediff computes a line-by-line diff: the longest common
// subsequence of two lists, as kept, removed and added lines.
package linediff

// Edit is one line of a diff: Op is ' ' (in both), '-' (only in a) or '+'
// (only in b); A and B are its indexes in a and b (-1 where it is absent).
type Edit struct {
	Op   byte
	A, B int
}

// Diff compares a and b (of lengths n and m) line by line; equal reports
// whether a[i] and b[j] are the same line.
func Diff(n, m int, equal func(i, j int) bool) []Edit {
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if equal(i, j) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []Edit
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && equal(i, j):
			out = append(out, Edit{' ', i, j})
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]): // removals first
			out = append(out, Edit{'-', i, -1})
			i++
		default:
			out = append(out, Edit{'+', -1, j})
			j++
		}
	}
	return out
}

// Unified writes the diff of two texts' lines with "-", "+" and " "
// prefixes, only the changed lines and up to context lines around them.
func Unified(a, b []string, context int) []string {
	edits := Diff(len(a), len(b), func(i, j int) bool { return a[i] == b[j] })
	show := make([]bool, len(edits))
	for k, e := range edits {
		if e.Op != ' ' {
			for c := max(0, k-context); c <= min(len(edits)-1, k+context); c++ {
				show[c] = true
			}
		}
	}
	var out []string
	for k, e := range edits {
		if !show[k] {
			if k > 0 && show[k-1] {
				out = append(out, "...")
			}
			continue
		}
		switch e.Op {
		case '-':
			out = append(out, "-"+a[e.A])
		case '+':
			out = append(out, "+"+b[e.B])
		default:
			out = append(out, " "+a[e.A])
		}
	}
	return out
}
