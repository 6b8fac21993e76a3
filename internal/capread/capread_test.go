package capread

import (
	"bytes"
	"errors"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRead(t *testing.T) {
	data := []byte(strings.Repeat("0123456789", 1000)) // 10,000 bytes
	for _, tc := range []struct {
		name      string
		n, max    int64
		hint      int64
		tooLarge  bool
		wantBytes int
	}{
		{"empty", 0, 10, -1, false, 0},
		{"empty, hint 0", 0, 10, 0, false, 0},
		{"under the limit, unknown size", 100, 1000, -1, false, 100},
		{"exactly the limit", 1000, 1000, -1, false, 1000},
		{"exactly the limit, announced", 1000, 1000, 1000, false, 1000},
		{"one byte over", 1001, 1000, -1, true, 1000},
		{"far over, announced", 10000, 1000, 10000, true, 1000},
		{"longer than announced", 5000, 10000, 10, false, 5000},
		{"shorter than announced", 10, 10000, 9000, false, 10},
		{"larger than the first buffer", 10000, 10000, 10000, false, 10000},
		{"limit zero", 1, 0, -1, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// OneByteReader and DataErrReader make the loop see short reads and data with io.EOF.
			for _, r := range []io.Reader{
				bytes.NewReader(data[:tc.n]),
				iotest.OneByteReader(bytes.NewReader(data[:tc.n])),
				iotest.DataErrReader(bytes.NewReader(data[:tc.n])),
			} {
				got, err := Read(r, tc.max, tc.hint)
				if tc.tooLarge {
					var tl *TooLargeError
					require.ErrorAs(t, err, &tl)
					assert.Equal(t, tc.max, tl.Limit)
					assert.True(t, IsTooLarge(err))
					assert.Equal(t, "more than "+strconv.FormatInt(tc.max, 10)+" bytes", err.Error())
				} else {
					require.NoError(t, err)
				}
				assert.Equal(t, data[:tc.wantBytes], got)
			}
		})
	}
}

func TestReadStopsOneBytePastTheLimit(t *testing.T) {
	var r countingReader
	_, err := Read(&r, 1000, -1)
	assert.True(t, IsTooLarge(err))
	assert.EqualValues(t, 1001, r.n, "reads max+1 bytes, no more")
}

// countingReader is an endless stream that counts the bytes taken from it.
type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func TestReadReturnsTheReadError(t *testing.T) {
	boom := errors.New("connection reset")
	got, err := Read(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom)), 100, -1)
	assert.Same(t, boom, err)
	assert.False(t, IsTooLarge(err))
	assert.Equal(t, []byte("abc"), got)
}

// An announced size is not an allocation: a stream that claims 32 MiB and sends 10 bytes costs
// a few KiB.
func TestReadAllocatesWithTheDataNotTheAnnouncement(t *testing.T) {
	const claimed = 32 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 20
	for i := 0; i < runs; i++ {
		got, err := Read(strings.NewReader("0123456789"), claimed, claimed)
		require.NoError(t, err)
		require.Len(t, got, 10)
	}
	runtime.ReadMemStats(&after)
	perRead := (after.TotalAlloc - before.TotalAlloc) / runs
	assert.LessOrEqual(t, perRead, uint64(2*InitialMax), "bytes allocated per read")

	sr := strings.NewReader("")
	allocs := testing.AllocsPerRun(10, func() {
		sr.Reset("0123456789")
		_, _ = Read(sr, claimed, 10)
	})
	assert.Equal(t, 1.0, allocs, "a body of the announced size is read into one buffer")
}

func TestReadLimitAtMaxInt64(t *testing.T) {
	got, err := Read(strings.NewReader("hello"), math.MaxInt64, -1)
	if err != nil || string(got) != "hello" {
		t.Fatalf("Read with the largest limit = %q, %v", got, err)
	}
	got, err = Read(strings.NewReader("hello"), math.MaxInt64, math.MaxInt64)
	if err != nil || string(got) != "hello" {
		t.Fatalf("Read with the largest limit and hint = %q, %v", got, err)
	}
}
