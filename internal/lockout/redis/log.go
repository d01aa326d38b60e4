package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Logger adapts l to the logging interface of go-redis (its internal
// Logging: Printf(ctx, format, v...)), for redis.SetLogger: the client's
// own lines ("redis: connection pool: ...", which go-redis otherwise prints
// as plain text on stderr) then go out through l at WARN, with the
// attribute component=redis.
func Logger(l *slog.Logger) interface {
	Printf(ctx context.Context, format string, v ...any)
} {
	return logger{l}
}

type logger struct{ l *slog.Logger }

func (g logger) Printf(ctx context.Context, format string, v ...any) {
	g.l.Log(ctx, slog.LevelWarn, strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "redis")
}
