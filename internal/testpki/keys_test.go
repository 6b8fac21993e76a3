package testpki

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Keys come from a shared pool of primes: RSA key generation would be most of what these tests
// spend their time on.
func init() { SharePrimes() }

func TestPrimePoolKeysAreDistinctValidKeys(t *testing.T) {
	var pool primePool
	const n = 15
	var keys []*rsa.PrivateKey
	moduli := map[string]bool{}
	for range n {
		k, err := pool.key()
		require.NoError(t, err)
		require.NoError(t, k.Validate())
		assert.Equal(t, 2048, k.N.BitLen())
		assert.Equal(t, 65537, k.E)
		assert.False(t, moduli[k.N.String()], "a key handed out twice")
		moduli[k.N.String()] = true
		keys = append(keys, k)
	}
	// Three generated keys give six primes: 15 pairs, the 15 keys.
	assert.Len(t, pool.primes, 6, "keys were generated beyond the pairs of the pool")

	digest := sha256.Sum256([]byte("body"))
	for _, signer := range []int{0, 7, n - 1} {
		sig, err := rsa.SignPKCS1v15(nil, keys[signer], crypto.SHA256, digest[:])
		require.NoError(t, err)
		for i, k := range keys {
			err := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, digest[:], sig)
			if i == signer {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err, "key %d verifies the signature of key %d", i, signer)
			}
		}
	}
}

func TestSharedPrimesChainsHaveDistinctKeys(t *testing.T) {
	// This binary shares primes (init above): NewChain's keys come from the pool, all different.
	a, err := NewChain()
	require.NoError(t, err)
	b, err := NewChain()
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, k := range []*rsa.PrivateKey{a.RootKey, a.IntermediateKey, a.LeafKey, b.RootKey, b.IntermediateKey, b.LeafKey} {
		assert.False(t, seen[k.N.String()])
		seen[k.N.String()] = true
	}
}
