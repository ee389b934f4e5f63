package controller

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ferryhq/ferry/pkg/console"
	"github.com/ferryhq/ferry/pkg/cue"
)

// uiServer serves the console on every replica, leader or not.
type uiServer struct {
	addr string
	srv  *console.Server
}

func newUIServer(cfg *rest.Config, o UIOptions, systemNamespace string) (*uiServer, error) {
	srv, err := console.New(console.Options{Mode: console.ModeUser, Config: cfg, SystemNamespace: systemNamespace,
		// Parameter documentation compiles definitions (no render); a bounded template cache.
		Engine: cue.NewEngine(cue.Options{Validation: cue.ValidateStrict, MaxTemplates: 256})})
	if err != nil {
		return nil, err
	}
	return &uiServer{addr: net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), srv: srv}, nil
}

// NeedLeaderElection is false: every replica serves the console.
func (u *uiServer) NeedLeaderElection() bool { return false }

// Start serves until ctx ends.
func (u *uiServer) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", u.addr)
	if err != nil {
		return fmt.Errorf("console: listen on %s: %w", u.addr, err)
	}
	ctrl.LoggerFrom(ctx).Info("serving the console", "address", ln.Addr().String())
	return u.srv.Serve(ctx, ln)
}
