package e2e

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// hostile is text an app author controls (an annotation, a step's message) that would run
// script if the console did not escape it.
const hostile = `<script>window.__xss=1</script><img src=x alt="" onerror="window.__xss=2">`

// teamApp is an app in team-a whose annotation and suspend message carry markup.
const teamApp = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: notes
  namespace: team-a
  labels: {team: a}
  annotations:
    note: '` + hostile + `'
spec:
  components:
    - name: notes
      type: k8s-objects
      properties:
        objects:
          - apiVersion: v1
            kind: ConfigMap
            metadata: {name: notes}
            data: {a: "1"}
  workflow:
    steps:
      - name: hold
        type: suspend
        properties:
          message: '` + hostile + `'
      - name: deploy
        type: deploy
`

// TestConsoleInABrowser runs `ferry ui` (the built CLI, as users run it) against a hub with
// Ferry installed (admission on), its controller and two managed clusters with real OCM work
// agents, and drives the console in Debian's headless Chromium:
//   - the list shows the demo's app (examples/multi-env) and the others with their phases;
//   - the app page shows the workflow graph with the suspended approval; Approve, confirmed in
//     a dialog, resumes it and the page turns to running by itself, without a reload;
//   - every action is reachable with the keyboard; the graph and images have text alternatives;
//   - markup in an annotation and a step message is shown as text, no script runs, and the
//     Content-Security-Policy forbids inline script anyway; an action without the session's
//     CSRF token is refused;
//   - a read-only user (a ServiceAccount that may only read Applications in team-a) sees
//     team-a's app but not the shop's, gets no action buttons, and a forged action is refused
//     server-side.
//
// Screenshots of each page go to $FERRY_ARTIFACTS (default .cache/artifacts/console).
func TestConsoleInABrowser(t *testing.T) {
	chromium := testenv.RequireChromium(t)
	f := startFleet(t,
		testenv.ClusterSpec{Name: "staging", Labels: map[string]string{"env": "staging"}},
		testenv.ClusterSpec{Name: "prod", Labels: map[string]string{"env": "prod"}})
	ctx := context.Background()
	bin := buildFerry(t)
	hubCtx, stopKubelet := context.WithCancel(ctx)
	defer stopKubelet()
	go testenv.PlayKubelet(hubCtx, f.hub, 200*time.Millisecond)

	shop, err := os.ReadFile("../examples/multi-env/app.yaml")
	require.NoError(t, err)
	f.applyApp(string(shop))
	f.applyApp(teamApp)
	hello, err := os.ReadFile("../examples/hello/app.yaml")
	require.NoError(t, err)
	f.applyApp(strings.Replace(string(hello), "name: hello\n", "name: hello\n  namespace: default\n", 1))
	f.waitApp("shop", "shop", "the approval", phase(v1beta1.ApplicationWorkflowSuspending))
	f.waitApp("team-a", "notes", "its hold", phase(v1beta1.ApplicationWorkflowSuspending))
	f.waitApp("default", "hello", "running", phase(v1beta1.ApplicationRunning))

	artifacts := os.Getenv("FERRY_ARTIFACTS")
	if artifacts == "" {
		root, err := testenv.FindRepoRoot()
		require.NoError(t, err)
		artifacts = filepath.Join(root, ".cache", "artifacts")
	}
	artifacts = filepath.Join(artifacts, "console")
	require.NoError(t, os.MkdirAll(artifacts, 0o755))

	adminKC := filepath.Join(t.TempDir(), "admin.kubeconfig")
	require.NoError(t, testenv.WriteKubeconfig(adminKC, f.env.Hub.Config))
	base, login := startUI(t, bin, "--kubeconfig", adminKC)
	b := newBrowser(t, chromium)

	// The list: every app with its phase. The printed URL's token becomes a session cookie
	// and leaves the address bar.
	b.run(chromedp.Navigate(login), chromedp.WaitVisible(chromedp.CSS(`table.apps`)))
	phases := b.eval(`Object.fromEntries([...document.querySelectorAll('tr[data-app]')].map(r => [r.dataset.app, r.querySelector('.phase').textContent]))`)
	require.Equal(t, map[string]any{"shop/shop": "workflowSuspending", "team-a/notes": "workflowSuspending", "default/hello": "running"}, phases)
	require.Equal(t, base+"/", b.eval(`location.href`))
	b.screenshot(filepath.Join(artifacts, "apps.png"))

	// The demo's app: the graph shows the suspended approval between the two deploys.
	b.run(chromedp.Click(chromedp.CSS(`a[href="/apps/shop/shop"]`)), chromedp.WaitVisible(chromedp.CSS(`svg[role=img]`)))
	nodes := b.eval(`[...document.querySelectorAll('svg g.node')].map(g => g.dataset.step + '=' + g.dataset.phase)`)
	require.Equal(t, []any{"deploy-staging=succeeded", "approve-prod=suspending", "deploy-prod=pending"}, nodes)
	require.Equal(t, float64(2), b.eval(`document.querySelectorAll('svg line.edge').length`), "deploy-staging → approve-prod → deploy-prod")
	matrix := b.eval(`[...document.querySelectorAll('table.matrix tbody tr')].map(r => [...r.children].map(c => c.innerText.split('\n')[0].trim()).join(' '))`)
	require.Contains(t, matrix, "frontend healthy", "the matrix shows frontend healthy on staging")
	b.screenshot(filepath.Join(artifacts, "app-suspended.png"))

	// Keyboard: Tab reaches every action; images and the graph have text alternatives.
	actions := b.eval(`[...document.querySelectorAll('a[data-action]')].map(a => a.textContent)`)
	require.Contains(t, actions, "Approve approve-prod")
	reached := map[string]bool{}
	b.eval(`document.activeElement.blur()`)
	for range 60 {
		b.run(chromedp.KeyEvent(kb.Tab))
		if a, ok := b.eval(`document.activeElement && document.activeElement.dataset && document.activeElement.dataset.action ? document.activeElement.textContent : ''`).(string); ok && a != "" {
			reached[a] = true
		}
	}
	for _, a := range actions.([]any) {
		require.True(t, reached[a.(string)], "Tab reaches %q", a)
	}
	require.Equal(t, float64(0), b.eval(`document.querySelectorAll('img:not([alt]), svg:not([aria-label])').length`))

	// Approve: confirmed in a dialog, sent in the background; the page follows the watch to
	// running without a reload (the marker set on this page survives).
	b.eval(`window.__marker = 42`)
	b.run(chromedp.Click(chromedp.CSS(`a[data-action=resume]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open] button[type=submit]`)))
	dialog := b.eval(`document.querySelector('dialog[open]').textContent`).(string)
	require.Contains(t, dialog, "Approve step approve-prod of shop/shop")
	b.screenshot(filepath.Join(artifacts, "app-approve-dialog.png"))
	b.run(chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)))
	b.waitFor(`document.getElementById('phase').textContent`, "running", 90*time.Second)
	require.Equal(t, float64(42), b.eval(`window.__marker`), "the page was not reloaded")
	require.Contains(t, b.eval(`document.getElementById('flash').textContent`), "application shop/shop: step approve-prod resumed")
	nodes = b.eval(`[...document.querySelectorAll('svg g.node')].map(g => g.dataset.step + '=' + g.dataset.phase)`)
	require.Equal(t, []any{"deploy-staging=succeeded", "approve-prod=succeeded", "deploy-prod=succeeded"}, nodes)
	require.Equal(t, "admin", b.eval(`document.querySelector('tr[data-step="approve-prod"] [data-approved-by]').dataset.approvedBy`),
		"the step table names who approved")
	require.Equal(t, "deploy-prod prod shop-v1 2/2 admin succeeded",
		b.eval(`[...document.querySelector('tr[data-env="deploy-prod@prod"]').children].filter((_, i) => i != 4).map(c => c.innerText.trim()).join(' ')`),
		"the environments table: prod runs revision 1, healthy, approved by admin")
	b.screenshot(filepath.Join(artifacts, "app-running.png"))

	// Markup from an app author is text; no script runs; inline script is forbidden anyway.
	b.run(chromedp.Navigate(base+"/apps/team-a/notes"), chromedp.WaitVisible(chromedp.CSS(`svg[role=img]`)))
	require.Nil(t, b.eval(`window.__xss`), "no injected script ran")
	text := b.eval(`document.body.innerText`).(string)
	require.Equal(t, 2, strings.Count(text, hostile), "the annotation and the step message are shown as text")
	require.Equal(t, float64(0), b.eval(`document.querySelectorAll('#live script, #live img').length`))
	b.screenshot(filepath.Join(artifacts, "app-hostile.png"))
	status := b.eval(`fetch('/apps/team-a/notes/actions/restart', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'csrf=forged'}).then(r => r.status)`)
	require.Equal(t, float64(http.StatusForbidden), status, "an action without the session's CSRF token")
	resp, err := http.Get(base + "/apps/team-a/notes")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no session, no page")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")

	// Clusters, definitions and addons pages.
	b.run(chromedp.Navigate(base+"/clusters"), chromedp.WaitVisible(chromedp.CSS(`tr[data-cluster=prod]`)))
	require.Contains(t, b.eval(`document.querySelector('tr[data-cluster=prod]').textContent`), "shop/shop")
	b.screenshot(filepath.Join(artifacts, "clusters.png"))
	b.run(chromedp.Navigate(base+"/definitions/component/webservice"), chromedp.WaitVisible(chromedp.CSS(`table`)))
	require.Contains(t, b.eval(`document.body.innerText`), "image")
	b.screenshot(filepath.Join(artifacts, "definition.png"))
	b.run(chromedp.Navigate(base+"/addons"), chromedp.WaitVisible(chromedp.CSS(`tr[data-addon=fluxcd]`)))
	b.screenshot(filepath.Join(artifacts, "addons.png"))

	// A read-only user sees team-a's app only, without actions; a forged action is refused.
	viewerKC := readOnlyUser(ctx, t, f, "team-a")
	viewerBase, viewerLogin := startUI(t, bin, "--kubeconfig", viewerKC, "-n", "team-a")
	v := newBrowser(t, chromium)
	v.run(chromedp.Navigate(viewerLogin), chromedp.WaitVisible(chromedp.CSS(`table.apps`)))
	require.Equal(t, []any{"team-a/notes"}, v.eval(`[...document.querySelectorAll('tr[data-app]')].map(r => r.dataset.app)`))
	v.screenshot(filepath.Join(artifacts, "apps-read-only.png"))
	v.run(chromedp.Navigate(viewerBase+"/apps/team-a/notes"), chromedp.WaitVisible(chromedp.CSS(`#actions-h`)))
	require.Equal(t, float64(0), v.eval(`document.querySelectorAll('a[data-action]').length`))
	require.Contains(t, v.eval(`document.body.innerText`), "you may not patch applications/status in namespace team-a")
	v.run(chromedp.Navigate(viewerBase+"/apps/team-a/notes/confirm/resume?step=hold"), chromedp.WaitVisible(chromedp.CSS(`form button[type=submit]`)))
	v.run(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`#error`)))
	require.Contains(t, v.eval(`document.getElementById('error').textContent`), "you may not patch applications/status in namespace team-a")
	v.screenshot(filepath.Join(artifacts, "action-refused.png"))
	v.run(chromedp.Navigate(viewerBase+"/apps/shop/shop"), chromedp.WaitVisible(chromedp.CSS(`#error`)))
	require.Contains(t, v.eval(`document.getElementById('error').textContent`), "forbidden")
	f.waitApp("team-a", "notes", "still held", phase(v1beta1.ApplicationWorkflowSuspending))
}

// startUI runs `ferry ui --no-open` with args until the test ends and returns the console's
// base URL and the URL it printed (with the session token).
func startUI(t *testing.T, bin string, args ...string) (base, login string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"ui", "--no-open"}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.Stderr = testWriter{t}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	m := regexp.MustCompile(`^Ferry console: (http://127\.0\.0\.1:\d+)/\?token=([0-9a-f]+)\n$`).FindStringSubmatch(line)
	require.NotNil(t, m, "ferry ui printed %q", line)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return m[1], strings.TrimSpace(line[len("Ferry console: "):])
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// browser is a headless Chromium tab.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T, chromium string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Headless,
		chromedp.DisableGPU, chromedp.WindowSize(1400, 1000), chromedp.UserDataDir(t.TempDir()))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The browser starts with the first run on this context, and would end with the context
	// of that run: start it here, so that later runs can carry their own timeouts.
	require.NoError(t, chromedp.Do(ctx))
	return &browser{t: t, ctx: ctx}
}

func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, actions...))
}

// eval evaluates a JavaScript expression (awaiting a promise); undefined is nil.
func (b *browser) eval(expr string) any {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr, chromedp.EvalAwaitPromise))
	if errors.Is(err, chromedp.ErrJSUndefined) || errors.Is(err, chromedp.ErrJSNull) {
		return nil
	}
	require.NoError(b.t, err, expr)
	return out
}

func (b *browser) waitFor(expr, want string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var last any
	for time.Now().Before(deadline) {
		if last = b.eval(expr); last == want {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.t.Fatalf("%s: still %v after %s, want %s", expr, last, timeout, want)
}

func (b *browser) screenshot(path string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	require.NoError(b.t, os.WriteFile(path, png, 0o644))
	b.t.Logf("screenshot: %s", path)
}

// readOnlyUser is a kubeconfig for a ServiceAccount that may only read Applications in ns.
func readOnlyUser(ctx context.Context, t *testing.T, f *fleet, ns string) string {
	t.Helper()
	c := f.hub
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "viewer"}}
	require.NoError(t, c.Create(ctx, sa))
	require.NoError(t, c.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-viewer"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{v1beta1.GroupVersion.Group}, Resources: []string{"applications", "applicationrevisions"},
			Verbs: []string{"get", "list", "watch"}}}}))
	require.NoError(t, c.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-viewer"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "app-viewer"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "viewer"}}}))
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}
	require.NoError(t, c.SubResource("token").Create(ctx, sa, req))
	cfg := rest.AnonymousClientConfig(f.env.Hub.Config)
	cfg.BearerToken = req.Status.Token
	path := filepath.Join(t.TempDir(), "viewer.kubeconfig")
	require.NoError(t, testenv.WriteKubeconfig(path, cfg))
	return path
}
