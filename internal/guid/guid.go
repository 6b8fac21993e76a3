// Package guid makes random (version 4) GUIDs, as Partner Center expects in MS-CorrelationId and
// MS-RequestId.
package guid

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// New returns a random RFC 4122 version 4 GUID in its lower-case 36-character text form, drawn
// from crypto/rand.
func New() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating a GUID: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:]), nil
}
