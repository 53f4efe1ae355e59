package plugin

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fm-image/fm-image/sdk"
)

func TestOptionsNormalize(t *testing.T) {
	tests := []struct {
		name    string
		in      Options
		want    Options
		wantErr string
	}{
		{"defaults", Options{}, Options{DefaultParentPollInterval, DefaultOrphanGrace, DefaultShutdownGrace, DefaultMaxRecvMsgSize}, ""},
		{"kept", Options{-1, time.Second, time.Second, 1 << 10}, Options{-1, time.Second, time.Second, 1 << 10}, ""},
		{"negative grace", Options{OrphanGrace: -1}, Options{}, "must be >= 0"},
		{"negative size", Options{MaxRecvMsgSize: -1}, Options{}, "must be >= 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.normalize()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("normalize() = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestServeRefusesWithoutCookie(t *testing.T) {
	t.Setenv(sdk.MagicCookieKey, "")
	if err := Serve(nil, nil); !errors.Is(err, ErrNotLaunchedByHost) {
		t.Fatalf("Serve = %v, want ErrNotLaunchedByHost", err)
	}
	t.Setenv(sdk.MagicCookieKey, "wrong")
	if LaunchedByHost() {
		t.Fatal("LaunchedByHost with a wrong cookie")
	}
}

func TestWatchParent(t *testing.T) {
	var ppid atomic.Int64
	ppid.Store(100)
	fired := make(chan struct{})
	go watchParent(func() int { return int(ppid.Load()) }, time.Millisecond, func() { close(fired) })
	select {
	case <-fired:
		t.Fatal("fired while the parent was alive")
	case <-time.After(20 * time.Millisecond):
	}
	ppid.Store(1) // reparented to init
	select {
	case <-fired:
	case <-time.After(2 * time.Second):
		t.Fatal("did not notice the parent change")
	}
}
