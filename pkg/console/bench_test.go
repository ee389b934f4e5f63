package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// BenchmarkConsole measures the two heaviest pages on a real API server: the list with
// 1,000 applications (a page of 50 shown) and an application of 50 components on 3 clusters.
// cpu-ms/op is the console process's CPU per page (user+system); the browser sub-benchmarks
// report Chromium's time to the first contentful paint of the page, from navigation start.
func BenchmarkConsole(b *testing.B) {
	env := testenv.StartEnvtestEnv(b)
	c, err := ferryscheme.NewClient(env.Config)
	require.NoError(b, err)
	ctx := context.Background()
	require.NoError(b, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "load"}}))
	clusters := []string{"eu-1", "us-1", "ap-1"}
	status := func(components int) v1beta1.ApplicationStatus {
		st := suspendedAt("approve")
		st.Phase = v1beta1.ApplicationRunning
		st.Services = nil
		for i := range components {
			for _, cl := range clusters {
				st.Services = append(st.Services, v1beta1.ApplicationComponentStatus{Name: fmt.Sprintf("c%02d", i), Cluster: cl, Namespace: "load",
					Healthy: i%7 != 0, Message: "Ready: 1/1", Traits: []v1beta1.ApplicationTraitStatus{{Type: "scaler", Healthy: true}}})
			}
		}
		return st
	}
	create := func(name string, components int) {
		app := &v1beta1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: "load", Name: name, Labels: map[string]string{"team": "load"}}}
		for i := range components {
			app.Spec.Components = append(app.Spec.Components, v1beta1.ApplicationComponent{Name: fmt.Sprintf("c%02d", i), Type: "webservice",
				Properties: &runtime.RawExtension{Raw: []byte(`{"image":"nginx:1.27","ports":[{"port":80}]}`)}})
		}
		require.NoError(b, c.Create(ctx, app))
		app.Status = status(components)
		require.NoError(b, c.Status().Update(ctx, app))
	}
	var wg sync.WaitGroup
	names := make(chan string)
	for range 8 {
		wg.Go(func() {
			for n := range names {
				create(n, 2)
			}
		})
	}
	for i := range 1000 {
		names <- fmt.Sprintf("app-%04d", i)
	}
	close(names)
	wg.Wait()
	create("big", 50)

	srv, err := New(Options{Config: env.Config})
	require.NoError(b, err)
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(ts.Close)
	cookie := &http.Cookie{Name: SessionCookie, Value: srv.Token()}
	fetch := func(b *testing.B, path, want string) {
		req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		require.NoError(b, err)
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(b, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(b, err)
		_ = resp.Body.Close()
		require.Equal(b, http.StatusOK, resp.StatusCode)
		require.Contains(b, string(body), want)
	}
	pages := []struct{ name, path, want string }{
		{"apps-1000", "/", "1001 of 1001 applications"},
		{"app-50x3", "/apps/load/big", `data-step="prod"`},
	}
	for _, p := range pages {
		fetch(b, p.path, p.want) // the client's first use discovers the API's kinds
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			before := cpu()
			b.ReportAllocs()
			for b.Loop() {
				fetch(b, p.path, p.want)
			}
			b.ReportMetric(float64((cpu()-before).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
	for _, p := range pages {
		b.Run("browser-"+p.name, func(b *testing.B) {
			chromium := testenv.RequireChromium(b)
			opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Headless,
				chromedp.DisableGPU, chromedp.UserDataDir(b.TempDir()))
			alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
			defer cancelAlloc()
			bctx, cancel := chromedp.NewContext(alloc)
			defer cancel()
			require.NoError(b, chromedp.Do(bctx, chromedp.Navigate(srv.URL(ts.URL))))
			var paint float64
			for b.Loop() {
				require.NoError(b, chromedp.Do(bctx, chromedp.Navigate(ts.URL+p.path), chromedp.WaitVisible(chromedp.CSS(`#live`))))
				ms, err := chromedp.Run(bctx, chromedp.Evaluate[float64](
					`(performance.getEntriesByName('first-contentful-paint')[0] || performance.getEntriesByType('navigation')[0]).startTime`))
				require.NoError(b, err)
				paint += ms
			}
			b.ReportMetric(paint/float64(b.N), "ms-first-paint")
		})
	}
}

// cpu is this process's CPU time so far.
func cpu() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
