package lang

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// MaxSourceSize bounds what ksc reads as a policy or a file() set: 64 MiB
// holds a policy of a million rules or a set of two million addresses,
// and keeps /dev/zero or a runaway generator from exhausting memory.
const MaxSourceSize = 64 << 20

// ErrTooLarge is returned for a source past MaxSourceSize.
var ErrTooLarge = fmt.Errorf("larger than %d MiB, the most ksc reads", MaxSourceSize>>20)

// ReadSource reads a policy or a set file: a regular file, never a device,
// FIFO or directory (which could block or never end), of at most
// MaxSourceSize bytes.
func ReadSource(path string) ([]byte, error) {
	// Without O_NONBLOCK, opening a FIFO would wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s); give a file, or - for standard input", path, fileKind(st.Mode()))
	}
	data, err := ReadBounded(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// ReadBounded reads r to its end, failing with ErrTooLarge past
// MaxSourceSize bytes.
func ReadBounded(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSourceSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSourceSize {
		return nil, ErrTooLarge
	}
	return data, nil
}

// IsTooLarge reports whether err says a source was past MaxSourceSize.
func IsTooLarge(err error) bool { return errors.Is(err, ErrTooLarge) }

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeSocket != 0:
		return "a socket"
	default:
		return "not a file"
	}
}
