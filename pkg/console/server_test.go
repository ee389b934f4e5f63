package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// hub is an API server with Ferry's CRDs; apps get their status written by the test (no
// controller runs), so the console's view of each state is exact.
type hub struct {
	env *envtest.Environment
	c   client.Client
}

func startHub(t *testing.T) *hub {
	t.Helper()
	env := testenv.StartEnvtestEnv(t)
	c, err := ferryscheme.NewClient(env.Config)
	require.NoError(t, err)
	return &hub{env: env, c: c}
}

// app creates an Application with a status.
func (h *hub) app(t *testing.T, ns, name string, labels, annotations map[string]string, status v1beta1.ApplicationStatus) {
	t.Helper()
	ctx := t.Context()
	if err := h.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		require.True(t, strings.Contains(err.Error(), "already exists"), err)
	}
	app := &v1beta1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: annotations},
		Spec: v1beta1.ApplicationSpec{
			Components: []v1beta1.ApplicationComponent{{Name: "web", Type: "webservice", Properties: &runtime.RawExtension{Raw: []byte(`{"image":"nginx"}`)}}},
			Workflow: &v1beta1.Workflow{Steps: []v1beta1.WorkflowStep{
				{WorkflowStepBase: v1beta1.WorkflowStepBase{Name: "deploy", Type: "deploy"}},
				{WorkflowStepBase: v1beta1.WorkflowStepBase{Name: "approve", Type: "suspend"}},
				{WorkflowStepBase: v1beta1.WorkflowStepBase{Name: "prod", Type: "deploy"}}}}}}
	require.NoError(t, h.c.Create(ctx, app))
	app.Status = status
	require.NoError(t, h.c.Status().Update(ctx, app))
}

func suspendedAt(step string) v1beta1.ApplicationStatus {
	now := metav1.Now()
	return v1beta1.ApplicationStatus{Phase: v1beta1.ApplicationWorkflowSuspending,
		LatestRevision: &v1beta1.Revision{Name: "v1", Revision: 1, RevisionHash: "a"},
		Services:       []v1beta1.ApplicationComponentStatus{{Name: "web", Cluster: "local", Healthy: true}},
		Workflow: &v1beta1.WorkflowStatus{AppRevision: "v1", Phase: "suspending", Suspend: true, StartTime: &now, Steps: []v1beta1.WorkflowStepStatus{
			{StepStatus: v1beta1.StepStatus{ID: "a", Name: "deploy", Type: "deploy", Phase: "succeeded", FirstExecuteTime: &now, LastExecuteTime: &now}},
			{StepStatus: v1beta1.StepStatus{ID: "b", Name: step, Type: "suspend", Phase: "suspending", FirstExecuteTime: &now}},
			{StepStatus: v1beta1.StepStatus{ID: "c", Name: "prod", Type: "deploy", Phase: "pending"}}}}}
}

// session is a browser-like client of one console: it opens the printed URL once and keeps
// the cookie.
type session struct {
	t    *testing.T
	base string
	c    *http.Client
}

func serve(t *testing.T, cfg *rest.Config, o Options) (*Server, *session) {
	t.Helper()
	o.Config = cfg
	srv, err := New(o)
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	s := &session{t: t, base: ts.URL, c: &http.Client{Jar: jar}}
	resp, err := s.c.Get(srv.URL(ts.URL))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/", resp.Request.URL.RequestURI(), "the token leaves the address")
	return srv, s
}

func (s *session) get(path string) (int, string) {
	s.t.Helper()
	resp, err := s.c.Get(s.base + path)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return resp.StatusCode, string(body)
}

func (s *session) post(path string, form url.Values, header map[string]string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(form.Encode()))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.c.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return resp.StatusCode, string(body)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	require.NotNil(t, m, "the page carries the CSRF token")
	return m[1]
}

// TestConsoleSessionActionsAndRights: the session token, security headers, escaping, CSRF,
// an approval that changes the workflow state, and a read-only user who sees only their
// namespace and whose forged action is refused by the server.
func TestConsoleSessionActionsAndRights(t *testing.T) {
	h := startHub(t)
	ctx := t.Context()
	h.app(t, "team-a", "shop", map[string]string{"tier": "web"}, map[string]string{"note": `<script>alert("x")</script>`}, suspendedAt("approve"))
	h.app(t, "team-b", "other", nil, nil, suspendedAt("approve"))

	srv, s := serve(t, h.env.Config, Options{})

	// Without the session: nothing.
	resp, err := http.Get(s.base + "/apps/team-a/shop")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, err = http.Get(s.base + "/?token=" + strings.Repeat("0", len(srv.Token())))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a wrong token")

	// Every page carries the security headers; markup from the app is escaped.
	resp, err = s.c.Get(s.base + "/apps/team-a/shop")
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	csp := resp.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "default-src 'none'")
	require.Contains(t, csp, "script-src 'self'")
	require.NotContains(t, csp, "unsafe-inline")
	require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	require.Contains(t, string(page), `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`)
	require.NotContains(t, string(page), `<script>alert`)
	require.Regexp(t, `data-step="approve" data-phase="suspending"`, string(page))
	csrf := csrfOf(t, string(page))

	// Actions need the CSRF token, and a browser's Origin must be the console.
	approve := "/apps/team-a/shop/actions/resume?step=approve"
	code, body := s.post(approve, url.Values{}, nil)
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, "no valid CSRF token")
	code, body = s.post(approve, url.Values{"csrf": {csrf}}, map[string]string{"Origin": "http://evil.example"})
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, "not from this console")
	code, body = s.post("/apps/team-a/shop/actions/resume?step=nope", url.Values{"csrf": {csrf}}, nil)
	require.Equal(t, http.StatusConflict, code, body)
	require.Contains(t, body, "resume step nope is not possible on team-a/shop now")

	// The approval, as the script sends it.
	code, body = s.post(approve, url.Values{"csrf": {csrf}}, map[string]string{"Accept": "application/json"})
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"ok": true, "message": "application team-a/shop: step approve resumed by admin"}`, body)
	app := &v1beta1.Application{}
	require.NoError(t, h.c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "shop"}, app))
	require.Equal(t, "succeeded", app.Status.Workflow.Steps[1].Phase)
	require.Equal(t, "Resumed", app.Status.Workflow.Steps[1].Reason)
	require.Equal(t, "admin", app.Status.Workflow.Steps[1].ResumedBy, "the approval names who approved")

	// A user who may only read Applications in team-a.
	viewer := readOnlyUser(t, h, "team-a")
	_, vs := serve(t, viewer, Options{Namespace: "team-a"})
	code, body = vs.get("/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `data-app="team-a/shop"`)
	require.NotContains(t, body, `data-app="team-b/other"`, "a namespace the user may not read")
	require.Contains(t, body, "you may not list applications in every namespace")
	code, body = vs.get("/apps/team-b/other")
	require.Equal(t, http.StatusForbidden, code, body)
	h.app(t, "team-a", "held", nil, nil, suspendedAt("approve"))
	code, body = vs.get("/apps/team-a/held")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, "data-action=", "no buttons the user may not use")
	require.Contains(t, body, "you may not patch applications/status in namespace team-a")
	code, body = vs.get("/apps/team-a/held/confirm/resume?step=approve")
	require.Equal(t, http.StatusOK, code)
	code, body = vs.post("/apps/team-a/held/actions/resume?step=approve", url.Values{"csrf": {csrfOf(t, body)}}, nil)
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, "you may not patch applications/status in namespace team-a")
	require.NoError(t, h.c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "held"}, app))
	require.Equal(t, "suspending", app.Status.Workflow.Steps[1].Phase, "nothing changed")
}

// readOnlyUser is a user (client certificate) who may read Applications in ns, nothing else.
func readOnlyUser(t *testing.T, h *hub, ns string) *rest.Config {
	t.Helper()
	ctx := t.Context()
	user, err := h.env.AddUser(envtest.User{Name: "viewer"}, nil)
	require.NoError(t, err)
	require.NoError(t, h.c.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-viewer"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{v1beta1.GroupVersion.Group}, Resources: []string{"applications", "applicationrevisions"},
			Verbs: []string{"get", "list", "watch"}}}}))
	require.NoError(t, h.c.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-viewer"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "app-viewer"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "viewer"}}}))
	return user.Config()
}

// TestConsoleListPagesAndFilters: server-side paging and the filters of the list.
func TestConsoleListPagesAndFilters(t *testing.T) {
	h := startHub(t)
	for i := range 60 {
		ns := "a"
		if i%2 == 1 {
			ns = "b"
		}
		st := suspendedAt("approve")
		if i%3 == 0 {
			st.Phase = v1beta1.ApplicationRunning
		}
		h.app(t, ns, fmt.Sprintf("app-%02d", i), map[string]string{"tier": []string{"web", "db"}[i%2]}, nil, st)
	}
	_, s := serve(t, h.env.Config, Options{PageSize: 25})
	rows := regexp.MustCompile(`data-app="([^"]+)"`)
	count := func(path string) (int, string) {
		code, body := s.get(path)
		require.Equal(t, http.StatusOK, code, body)
		return len(rows.FindAllString(body, -1)), body
	}
	n, body := count("/")
	require.Equal(t, 25, n)
	require.Contains(t, body, "60 of 60 applications in every namespace · page 1 of 3")
	require.Contains(t, body, `href="/?page=2"`)
	n, _ = count("/?page=3")
	require.Equal(t, 10, n)
	n, body = count("/?namespace=b&phase=running")
	require.Equal(t, 10, n, "odd i divisible by 3: 3, 9, ..., 57")
	require.NotContains(t, body, `data-app="a/`)
	n, _ = count("/?label=tier%3Ddb")
	require.Equal(t, 25, n)
	n, body = count("/?q=APP-1")
	require.Equal(t, 10, n, "app-10 … app-19, case-insensitively")
	require.Contains(t, body, "10 of 60")
	code, body := s.get("/?label=tier%3D%3D%3D")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "label selector")
	n, body = count("/fragments/apps?namespace=a&page=2")
	require.Equal(t, 5, n)
	require.NotContains(t, body, "<html", "a fragment is only the live part")
}

// TestConsoleWatchStreamsChanges: the event streams of an app page and of the list say
// nothing for the state the page shows and send a change notice after the app changes, or
// after a new app appears.
func TestConsoleWatchStreamsChanges(t *testing.T) {
	h := startHub(t)
	h.app(t, "ns", "app", nil, nil, suspendedAt("approve"))
	_, s := serve(t, h.env.Config, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	app := &v1beta1.Application{}
	require.NoError(t, h.c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "app"}, app))
	appEvents := s.events(ctx, "/apps/ns/app/watch")
	listEvents := s.events(ctx, "/watch/apps")
	for _, events := range []chan string{appEvents, listEvents} {
		select {
		case e := <-events:
			t.Fatalf("an event (%s) before any change", e)
		case <-time.After(time.Second):
		}
	}
	app.Status.Phase = v1beta1.ApplicationRunning
	require.NoError(t, h.c.Status().Update(ctx, app))
	for _, events := range []chan string{appEvents, listEvents} {
		select {
		case e := <-events:
			require.Equal(t, "change", e)
		case <-time.After(10 * time.Second):
			t.Fatal("no change notice after the app changed")
		}
	}
	h.app(t, "ns", "new", nil, nil, suspendedAt("approve"))
	select {
	case e := <-listEvents:
		require.Equal(t, "change", e)
	case <-time.After(10 * time.Second):
		t.Fatal("no change notice on the list after a new app")
	}
}

// events opens an event stream and returns the names of the events it sends.
func (s *session) events(ctx context.Context, path string) chan string {
	t := s.t
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	require.NoError(t, err)
	resp, err := s.c.Do(req) //nolint:bodyclose // closed when ctx ends, by the reading goroutine
	require.NoError(t, err)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	events := make(chan string, 16)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: ") {
				events <- strings.TrimPrefix(sc.Text(), "event: ")
			}
		}
	}()
	return events
}

// TestConsoleRevisionDiff: the diff page compares two kept revisions' specs.
func TestConsoleRevisionDiff(t *testing.T) {
	h := startHub(t)
	h.app(t, "ns", "app", nil, nil, suspendedAt("approve"))
	for i, image := range []string{"nginx:1", "nginx:2"} {
		rev := &v1beta1.ApplicationRevision{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("app-v%d", i+1),
			Labels: map[string]string{v1beta1.LabelAppName: "app", v1beta1.LabelAppNamespace: "ns"}},
			Spec: v1beta1.ApplicationRevisionSpec{Revision: int64(i + 1), RevisionHash: image, Application: v1beta1.ApplicationSpec{
				Components: []v1beta1.ApplicationComponent{{Name: "web", Type: "webservice",
					Properties: &runtime.RawExtension{Raw: []byte(`{"image":"` + image + `"}`)}}}}}}
		require.NoError(t, h.c.Create(t.Context(), rev))
	}
	_, s := serve(t, h.env.Config, Options{})
	code, body := s.get("/apps/ns/app/diff")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `<span class="del">-    image: nginx:1</span>`)
	require.Contains(t, body, `<span class="add">&#43;    image: nginx:2</span>`)
	code, body = s.get("/apps/ns/app/diff?from=app-v1&to=app-v1")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "have the same spec")
	code, body = s.get("/apps/ns/app/diff?from=app-v9")
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, body, `keeps no revision &#34;app-v9&#34;`)
}

// TestConsoleShowsRollout: the application page shows where each cluster of a progressive
// deploy step is, and a metric check's last reading.
func TestConsoleShowsRollout(t *testing.T) {
	h := startHub(t)
	status := suspendedAt("approve")
	now := metav1.Now()
	prod := &status.Workflow.Steps[2].StepStatus
	prod.Phase, prod.Message = "running", "1/3 clusters succeeded; changing eu-2 (healthy for 2s of 5s); 1 waiting"
	prod.Progress = &v1beta1.StepProgress{Rollout: []v1beta1.ClusterRollout{
		{Cluster: "eu-1", Group: "canary", Phase: "Succeeded", Started: &now, From: "app-v1", Message: "healthy for 5s"},
		{Cluster: "eu-2", Group: "fleet", Phase: "Progressing", Started: &now, From: "app-v1", Message: "healthy for 2s of 5s"},
		{Cluster: "us-1", Group: "fleet", Phase: "Pending"}}}
	deploy := &status.Workflow.Steps[0].StepStatus
	deploy.Progress = &v1beta1.StepProgress{Metric: &v1beta1.MetricReading{Query: "sum(up)", Value: "3", Condition: ">=1", Met: true}}
	h.app(t, "ns", "app", nil, nil, status)
	_, s := serve(t, h.env.Config, Options{})
	code, body := s.get("/apps/ns/app")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `<li data-cluster="eu-1"><span class="chip ok">eu-1 · canary · Succeeded</span> from app-v1: healthy for 5s</li>`)
	require.Contains(t, body, `<li data-cluster="eu-2"><span class="chip wait">eu-2 · fleet · Progressing</span> from app-v1: healthy for 2s of 5s</li>`)
	require.Contains(t, body, `<li data-cluster="us-1"><span class="chip wait">us-1 · fleet · Pending</span></li>`)
	require.Contains(t, body, `<p class="metric" data-metric-met="true">sum(up) = 3 (&gt;=1 holds)</p>`)
}
