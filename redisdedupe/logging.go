package redisdedupe

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// go-redis's lines go to slog from the start of the program (see the package documentation,
// Logging). A program's own redis.SetLogger runs later, so it wins.
func init() { redis.SetLogger(slogRedisLogger{}) }

// redisLogger is the logger of go-redis's lines set by WithLogger; nil means slog.Default().
var redisLogger atomic.Pointer[slog.Logger]

// slogRedisLogger is go-redis's logger: it writes each line to redisLogger (or slog.Default())
// as the message "redis client" with the line in the attribute "redis".
type slogRedisLogger struct{}

// Printf is called by go-redis for each line.
func (slogRedisLogger) Printf(ctx context.Context, format string, v ...any) {
	l := redisLogger.Load()
	if l == nil {
		l = slog.Default()
	}
	if ctx == nil {
		ctx = context.Background()
	}
	line := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	level := slog.LevelWarn
	if strings.Contains(line, "failed to dial") {
		// One per retry of every command while Redis is unreachable; the command fails with the
		// same error, and whoever sent it reports it once (the Handler: ERROR, 503).
		level = slog.LevelDebug
	}
	if l.Enabled(ctx, level) {
		l.LogAttrs(ctx, level, "redis client", slog.String("redis", line))
	}
}
