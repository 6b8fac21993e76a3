package pcwebhook_test

import (
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"
)

// bigKey is a 3072-bit RSA key, made once per test binary.
var bigKeyOnce = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		panic(err)
	}
	return k
})

func bigKey(testing.TB) *rsa.PrivateKey { return bigKeyOnce() }
