package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/console"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/install"
)

type uiOptions struct {
	kube    kubeFlags
	address string
	noOpen  bool
}

func newUICmd(s streams) *cobra.Command {
	o := &uiOptions{}
	cmd := &cobra.Command{
		Use:   "ui [--address HOST:PORT] [--no-open]",
		Short: "Serve the web console on this machine, acting with your kubeconfig's identity",
		Long: `ferry ui serves Ferry's console on a loopback address: applications, their workflow graph,
health per cluster, resources, revisions and events; clusters; definitions; addons; and the
workflow actions (approve, suspend, terminate, restart, rollback), each confirmed first.

Everything is read and done with your kubeconfig's identity, so you see and do exactly what
kubectl would let you. The URL printed on stdout carries a random session token; the console
answers nothing without it. Ctrl-C stops it.`,
		Example: "  ferry ui\n  ferry ui --address 127.0.0.1:8090 --no-open",
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runUI(cmd.Context(), s, o) },
	}
	o.kube.bind(cmd)
	cmd.Flags().StringVar(&o.address, "address", "127.0.0.1:0", "loopback address to listen on (port 0: any free port)")
	cmd.Flags().BoolVar(&o.noOpen, "no-open", false, "do not open a browser; only print the URL")
	return cmd
}

func runUI(ctx context.Context, s streams, o *uiOptions) error {
	host, _, err := net.SplitHostPort(o.address)
	if err != nil {
		return usageError{fmt.Errorf("--address %q: %w", o.address, err)}
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usageError{fmt.Errorf("--address %q: the console acts with your credentials and listens on loopback only (127.0.0.1, ::1 or localhost)", o.address)}
	}
	cfg, err := o.kube.restConfig()
	if err != nil {
		return err
	}
	_, ns, err := o.kube.client()
	if err != nil {
		return err
	}
	srv, err := console.New(console.Options{
		Config: cfg, Namespace: ns, SystemNamespace: install.DefaultNamespace,
		Engine: newEngine(cue.ValidateStrict),
		Log:    s.err,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.address)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.address, err)
	}
	url := srv.URL("http://" + ln.Addr().String())
	fmt.Fprintf(s.out, "Ferry console: %s\n", url)
	if !o.noOpen {
		if err := openBrowser(url); err != nil {
			fmt.Fprintf(s.err, "could not open a browser (%v): open the URL above\n", err)
		}
	}
	return srv.Serve(ctx, ln)
}

// openBrowser opens url in the desktop's browser.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
