package guid

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

var v4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		g, err := New()
		require.NoError(t, err)
		require.Regexp(t, v4, g)
		require.False(t, seen[g], "duplicate %s", g)
		seen[g] = true
	}
}
