// Package capread reads a stream up to a size limit: the one capped read of pcwebhook (request
// bodies, certificate downloads, API responses, the command-line tool's files and replies).
//
// It reads at most one byte past the limit, so a longer stream is told apart from one of exactly
// the limit, and it grows its buffer with the data that arrives: a size the sender announces
// (Content-Length) sets only the first, small allocation, never the whole claimed size.
package capread

import (
	"errors"
	"io"
	"math"
	"strconv"
)

// InitialMax is the largest first buffer Read allocates, whatever size is announced.
const InitialMax = 4 << 10

// unknownSize is the first buffer when no size is announced (as io.ReadAll).
const unknownSize = 512

// TooLargeError reports that the stream holds more than Limit bytes.
type TooLargeError struct {
	// Limit is the largest size accepted, in bytes.
	Limit int64
}

func (e *TooLargeError) Error() string {
	return "more than " + strconv.FormatInt(e.Limit, 10) + " bytes"
}

// IsTooLarge reports whether err is (or wraps) a *TooLargeError.
func IsTooLarge(err error) bool {
	var tl *TooLargeError
	return errors.As(err, &tl)
}

// Read reads r until io.EOF and returns its bytes, at most max of them. When r holds more it
// stops after max+1 bytes and returns the first max with a *TooLargeError; on a read error it
// returns what it read with that error, unwrapped. hint is the size the stream announces
// (negative when unknown): the first buffer holds min(hint+1, InitialMax) bytes, so a body of
// the announced size needs one allocation, and a false announcement costs nothing.
func Read(r io.Reader, max, hint int64) ([]byte, error) {
	if max < 0 {
		max = 0
	}
	max = min(max, math.MaxInt64-1) // so that max+1 cannot overflow
	limit := max + 1                // one byte more tells "exactly max" from "more than max"
	size := int64(unknownSize)
	if hint >= 0 {
		size = min(hint, max) + 1 // +1: the read that returns io.EOF needs room
	}
	size = min(size, InitialMax, limit)
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= limit {
				return buf[:max], &TooLargeError{Limit: max}
			}
			grown := make([]byte, len(buf), min(2*int64(cap(buf)), limit))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if int64(len(buf)) > max {
				return buf[:max], &TooLargeError{Limit: max}
			}
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
