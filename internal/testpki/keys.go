package testpki

import (
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"sync"
)

// keyBits is the size of every key NewChain makes.
const keyBits = 2048

// sharedPrimes is the key source of a test binary that called [SharePrimes]; nil otherwise.
var sharedPrimes struct {
	sync.Mutex
	pool *primePool
}

// SharePrimes makes every RSA key that [NewChain] generates from then on in this process (the
// keys of pcwebhooktest's senders, of the development CA, of the load test) a product of two
// primes drawn from a pool the process keeps, instead of a fresh [rsa.GenerateKey]. Each key is
// still a distinct RSA 2048 key (no two share both primes), so a signature made with one never
// verifies with another; but keys share prime factors with each other, which makes them
// worthless outside a test. With n keys generated the pool yields about 2n² keys, so a test
// binary that makes a hundred chains generates a dozen keys instead of three hundred: RSA key
// generation is what the module's tests spent most of their time on.
//
// Only this module's test binaries call it, from an init function in a _test.go file; the
// command-line tool and users of pcwebhooktest never do, and keep independent keys.
func SharePrimes() {
	sharedPrimes.Lock()
	defer sharedPrimes.Unlock()
	if sharedPrimes.pool == nil {
		sharedPrimes.pool = &primePool{}
	}
}

// NewKey returns a new RSA 2048 key, as [NewChain] makes them: from the shared pool after
// [SharePrimes], else generated.
func NewKey() (*rsa.PrivateKey, error) {
	sharedPrimes.Lock()
	pool := sharedPrimes.pool
	sharedPrimes.Unlock()
	if pool == nil {
		return rsa.GenerateKey(rand.Reader, keyBits)
	}
	return pool.key()
}

// primePool hands out keys made of pairs of its primes, each pair once. When every pair is
// used it generates a key, hands that out, and keeps its two primes, which pair with all the
// earlier ones.
type primePool struct {
	mu     sync.Mutex
	primes []*big.Int // appended two at a time: those of one generated key
	i, j   int        // the next pair to consider: primes[i] and primes[j], j < i
}

func (p *primePool) key() (*rsa.PrivateKey, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.i >= len(p.primes) {
			k, err := rsa.GenerateKey(rand.Reader, keyBits)
			if err != nil {
				return nil, err
			}
			if len(k.Primes) == 2 {
				p.primes = append(p.primes, k.Primes[0], k.Primes[1])
				p.i, p.j = len(p.primes)-2, 0
			}
			return k, nil
		}
		if p.j >= p.i {
			p.i, p.j = p.i+1, 0
			continue
		}
		i, j := p.i, p.j
		p.j++
		if i == j+1 && j%2 == 0 {
			continue // the two primes of one generated key: handed out already
		}
		if k, ok := keyFromPrimes(p.primes[i], p.primes[j]); ok {
			return k, nil
		}
	}
}

// keyFromPrimes returns the RSA key with modulus p·q and public exponent 65537, or false when
// p·q is not a keyBits-bit modulus or the exponent has no inverse.
func keyFromPrimes(p, q *big.Int) (*rsa.PrivateKey, bool) {
	n := new(big.Int).Mul(p, q)
	if n.BitLen() != keyBits || p.Cmp(q) == 0 {
		return nil, false
	}
	const e = 65537
	one := big.NewInt(1)
	p1, q1 := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
	gcd := new(big.Int).GCD(nil, nil, p1, q1)
	lambda := new(big.Int).Div(new(big.Int).Mul(p1, q1), gcd)
	d := new(big.Int).ModInverse(big.NewInt(e), lambda)
	if d == nil {
		return nil, false
	}
	k := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: n, E: e},
		D:         d,
		Primes:    []*big.Int{new(big.Int).Set(p), new(big.Int).Set(q)},
	}
	k.Precompute()
	if err := k.Validate(); err != nil {
		return nil, false
	}
	return k, true
}
