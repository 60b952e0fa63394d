package server

import (
	"context"
	"log/slog"
	"sync"

	"k8s.io/klog/v2"
)

var routeKlogOnce sync.Once

// routeTesseraLogs sends the log lines of Tessera (which logs through
// klog, a process-wide logger) to our logger, its informational chatter
// demoted to debug. klog is global, so the first node's logger wins.
func routeTesseraLogs(log *slog.Logger) {
	routeKlogOnce.Do(func() {
		klog.SetSlogLogger(slog.New(demoteInfo{log.Handler()}))
	})
}

// demoteInfo lowers Info records to Debug and keeps the rest.
type demoteInfo struct{ slog.Handler }

func (h demoteInfo) Enabled(ctx context.Context, l slog.Level) bool {
	if l == slog.LevelInfo {
		l = slog.LevelDebug
	}
	return h.Handler.Enabled(ctx, l)
}

func (h demoteInfo) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo {
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h demoteInfo) WithAttrs(as []slog.Attr) slog.Handler {
	return demoteInfo{h.Handler.WithAttrs(as)}
}
func (h demoteInfo) WithGroup(g string) slog.Handler { return demoteInfo{h.Handler.WithGroup(g)} }
