package pgdedupe

// ExpireAll ends every claim the Store holds open as the lease timer does, so that a test's
// pool can close (pgxpool.Pool.Close waits for every acquired connection).
func (s *Store) ExpireAll() {
	s.claims.Range(func(token, cl any) bool {
		s.expire(token.(string), cl.(*claim))
		return true
	})
}
