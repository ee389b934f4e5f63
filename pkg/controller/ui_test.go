package controller_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// TestConsoleActsWithEachUsersToken runs ferry-controller's console (--ui-port) on a real hub:
// it answers nothing without a token; each request acts with its own bearer token, so a
// viewer sees only the namespace their RBAC allows and gets no actions, while an operator
// approves a step the controller then runs past; CSRF tokens are per identity; a user can
// sign in with a token (kept in an HttpOnly cookie), and a token the API server rejects is
// refused.
func TestConsoleActsWithEachUsersToken(t *testing.T) {
	h := startHub(t)
	ctx, cancel := context.WithCancel(context.Background())
	port := testenv.FreePortForTest(t)
	done := make(chan error, 1)
	go func() {
		done <- controller.Run(ctx, h.cfg, controller.ManagerOptions{UI: controller.UIOptions{Host: "127.0.0.1", Port: port}})
	}()
	defer func() { cancel(); require.NoError(t, <-done) }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	require.NoError(t, h.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}))
	for _, ns := range []string{"default", "other"} {
		h.apply(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: held, namespace: ` + ns + `}
spec:
  components:
    - name: cfg
      type: k8s-objects
      properties:
        objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: held-cfg}, data: {v: "1"}}]
  workflow:
    steps:
      - {name: approve, type: suspend}
      - {name: deploy, type: deploy}
`)
	}
	h.waitApp("held", "the approval", phaseIs(v1beta1.ApplicationWorkflowSuspending))

	read := []string{"get", "list", "watch"}
	viewer := h.serviceAccountToken(ctx, "viewer", rbacv1.PolicyRule{APIGroups: []string{v1beta1.GroupVersion.Group},
		Resources: []string{"applications", "applicationrevisions"}, Verbs: read})
	operator := h.serviceAccountToken(ctx, "operator", rbacv1.PolicyRule{APIGroups: []string{v1beta1.GroupVersion.Group},
		Resources: []string{"applications", "applicationrevisions"}, Verbs: read},
		rbacv1.PolicyRule{APIGroups: []string{v1beta1.GroupVersion.Group}, Resources: []string{"applications/status"}, Verbs: []string{"patch"}})

	get := func(token, path string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		// The console starts with the manager: wait for it to listen.
		resp, err := http.DefaultClient.Do(req)
		for deadline := time.Now().Add(30 * time.Second); err != nil && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			resp, err = http.DefaultClient.Do(req)
		}
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	post := func(token, path, csrf string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	csrfOf := func(page string) string {
		m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
		require.NotNil(t, m, page)
		return m[1]
	}

	code, body := get("", "/")
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, body, "Sign in")

	code, body = get(viewer, "/")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "Signed in as <span id=\"user\">system:serviceaccount:default:viewer</span>")
	require.Contains(t, body, `data-app="default/held"`)
	require.NotContains(t, body, `data-app="other/held"`)
	code, _ = get(viewer, "/apps/other/held")
	require.Equal(t, http.StatusForbidden, code)
	code, body = get(viewer, "/apps/default/held")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, "data-action=")
	viewerCSRF := csrfOf(body) // the sign-out form
	code, body = post(viewer, "/apps/default/held/actions/resume?step=approve", viewerCSRF)
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, "you may not patch applications/status in namespace default")

	code, body = get(operator, "/apps/default/held")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `data-action="resume"`)
	operatorCSRF := csrfOf(body)
	require.NotEqual(t, viewerCSRF, operatorCSRF, "CSRF tokens are per identity")
	code, _ = post(operator, "/apps/default/held/actions/resume?step=approve", viewerCSRF)
	require.Equal(t, http.StatusForbidden, code, "another identity's CSRF token")
	code, body = post(operator, "/apps/default/held/actions/resume?step=approve", operatorCSRF)
	require.Equal(t, http.StatusOK, code, body)
	h.waitApp("held", "running after the approval", phaseIs(v1beta1.ApplicationRunning))

	// Signing in with a token keeps it in an HttpOnly cookie; a bad token is refused.
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar}
	resp, err := browser.PostForm(base+"/login", url.Values{"token": {"not-a-token"}})
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, string(page), "did not accept this token")
	resp, err = browser.PostForm(base+"/login", url.Values{"token": {viewer}})
	require.NoError(t, err)
	page, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(page), `data-app="default/held"`)
	u, err := url.Parse(base)
	require.NoError(t, err)
	require.Len(t, jar.Cookies(u), 1)
}

// serviceAccountToken creates a ServiceAccount in default with a Role of rules, and returns a
// token for it.
func (h *hub) serviceAccountToken(ctx context.Context, name string, rules ...rbacv1.PolicyRule) string {
	h.t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}
	require.NoError(h.t, h.c.Create(ctx, sa))
	require.NoError(h.t, h.c.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Rules: rules}))
	require.NoError(h.t, h.c.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "default", Name: name}}}))
	exp := int64(3600)
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}
	require.NoError(h.t, h.c.SubResource("token").Create(ctx, sa, req))
	return req.Status.Token
}
