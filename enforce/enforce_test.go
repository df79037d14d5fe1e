package enforce

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A namespace made after another was deleted never gets its key, and with
// it the deleted one's lock, intent and last word: the kernel gives a new
// namespace the inode of a deleted one.
func TestNamespaceKeysAreNeverReused(t *testing.T) {
	labtest.Require(t)
	seen := map[string]bool{}
	for i := range 8 {
		name := fmt.Sprintf("ksc-key-%d-%d", os.Getpid(), i)
		require.NoError(t, exec.Command("ip", "netns", "add", name).Run())
		key, err := Namespace(name).key()
		require.NoError(t, exec.Command("ip", "netns", "del", name).Run())
		require.NoError(t, err)
		assert.False(t, seen[key], "key %s given twice", key)
		seen[key] = true
		time.Sleep(100 * time.Millisecond) // the kernel frees a namespace a moment after
	}
}
